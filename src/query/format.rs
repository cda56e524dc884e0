//! Rendering query outcomes as readable text (JSON: `json.rs`).

use std::fmt::Write;

use super::QueryOutcome;

/// Human-readable block.
pub fn to_text(o: &QueryOutcome) -> String {
    let mut s = String::new();
    match o {
        QueryOutcome::Invalid { query, error, .. } => {
            let _ = writeln!(s, "{query}: invalid query: {error}");
        }
        QueryOutcome::NotFound { query, canonical, .. } => {
            let _ = writeln!(s, "{query}: not found (canonical {canonical})");
        }
        QueryOutcome::Found { query, canonical, hits, .. } => {
            let _ = writeln!(s, "{query}: found in {} job(s) (canonical {canonical})", hits.len());
            for h in hits {
                let r = &h.record;
                let _ = writeln!(s, "  product    {}", h.smiles);
                let _ = writeln!(s, "  job        {}", h.job);
                let _ = writeln!(s, "  rule       {} ({})", h.rule, h.label);
                let _ = writeln!(
                    s,
                    "  parent     row {}{} {}",
                    r.parent_row,
                    r.parent_id.as_deref().map(|i| format!(" id {i}")).unwrap_or_default(),
                    r.parent_smiles
                );
                let _ = writeln!(s, "  site       #{} atoms {:?}", r.site_index, r.site_atoms);
                let _ = writeln!(s, "  occurrences {}", r.occurrences);
                if let Some(p) = &r.props {
                    let _ = writeln!(
                        s,
                        "  props      MW {:.2}  TPSA {:.2}  HBD {}  HBA {}  cLogP {:.2}  RotB {}",
                        p.mw, p.tpsa, p.hbd, p.hba, p.clogp, p.rotb
                    );
                }
            }
        }
    }
    s
}
