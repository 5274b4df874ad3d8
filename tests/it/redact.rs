//! Redaction's detectors, measured: precision and recall per kind on the
//! labelled corpus (`tests/redact/corpus.rs`), and the behaviours each
//! kind promises.

use convlog::redact::{Kind, Policy};

#[path = "../redact/corpus.rs"]
mod corpus;

#[test]
fn corpus_precision_and_recall_meet_the_goals() {
    let corpus = corpus::corpus();
    let (scores, wrong) = corpus::score(&Policy::all(), &corpus);
    let (mut tp, mut fp) = (0, 0);
    println!("kind           positives negatives  precision  recall");
    for (kind, s) in &scores {
        println!(
            "{:<14} {:>9} {:>9}  {:>9.4}  {:.4}",
            kind.name(),
            s.positives,
            s.negatives,
            s.precision(),
            s.recall()
        );
        tp += s.tp;
        fp += s.fp;
        assert!(s.positives >= 300 && s.negatives >= 300, "{kind}: {s:?}");
    }
    let overall = tp as f64 / (tp + fp) as f64;
    println!("overall precision {overall:.4}");
    for w in &wrong {
        println!("  {w}");
    }
    for (kind, s) in &scores {
        let goal = match kind {
            Kind::Card | Kind::Iban | Kind::Aadhaar | Kind::Email => 0.99,
            _ => 0.95,
        };
        assert!(
            s.recall() >= goal,
            "{kind}: recall {:.4} < {goal}",
            s.recall()
        );
    }
    assert!(overall >= 0.98, "overall precision {overall:.4} < 0.98");
}
