//! "Did you mean ...?" for every unknown name in a declaration: a key, a
//! state, an action, a unit.

/// How many edits still look like a typo: one for short names, more for
/// long ones.
fn limit(written: &str) -> usize {
    match written.chars().count() {
        0..4 => 1,
        len => (len / 3).max(2),
    }
}

/// Edits between `a` and `b`, in characters: insertions, deletions,
/// substitutions, and swaps of two neighbours (`pya` for `pay` is one).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Three rows of the optimal-string-alignment table.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut current = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let substitution = previous[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut best = substitution.min(previous[j] + 1).min(current[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        before = std::mem::replace(&mut previous, current);
    }
    previous[b.len()]
}

/// The candidate `written` most likely meant: one spelled the same but for
/// case, or else the nearest within a typo's distance.
pub(crate) fn closest<'c>(
    written: &str,
    candidates: impl IntoIterator<Item = &'c str> + Clone,
) -> Option<&'c str> {
    candidates
        .clone()
        .into_iter()
        .find(|candidate| candidate.eq_ignore_ascii_case(written))
        .or_else(|| {
            candidates
                .into_iter()
                .map(|candidate| (edit_distance(candidate, written), candidate))
                .filter(|(distance, _)| *distance <= limit(written))
                .min_by_key(|(distance, _)| *distance)
                .map(|(_, candidate)| candidate)
        })
}

/// `"; did you mean `initial`?"`, to end a message, or nothing when no
/// candidate is near.
pub(crate) fn did_you_mean<'c>(
    written: &str,
    candidates: impl IntoIterator<Item = &'c str> + Clone,
) -> String {
    closest(written, candidates)
        .map(|candidate| format!("; did you mean `{candidate}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{closest, edit_distance};

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("Paid", "Paid"), 0);
        assert_eq!(edit_distance("Paid", "Payd"), 1);
        assert_eq!(edit_distance("Cancelled", "Canceled"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("pya", "pay"), 1);
        assert_eq!(edit_distance("abc", ""), 3);
    }

    #[test]
    fn only_near_misses_are_suggested() {
        let keys = ["initial", "terminal", "on", "to", "after"];
        assert_eq!(closest("inital", keys), Some("initial"));
        assert_eq!(closest("Terminal", keys), Some("terminal"));
        assert_eq!(closest("om", keys), Some("on"));
        assert_eq!(closest("shipping", keys), None);
    }
}
