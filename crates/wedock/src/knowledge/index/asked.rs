//! The question's term ids as the re-ranker asks for them: for every id of every candidate
//! phrasing, "does the question name this, and which of its terms does it satisfy?".

/// A typed term of the question for the re-ranker: its weight (kind × IDF, with adjustments)
/// and the term ids that satisfy it (itself at full value, its synonyms slightly less).
pub(super) struct Need {
    pub(super) weight: f32,
    pub(super) any_of: Vec<(u32, f32)>,
}

/// The question's term ids (typed, expanded and synonyms), and for each the needs it meets
/// with its factor: what the re-ranker asks of every id of every candidate phrasing. Most ids
/// of a phrasing are not the question's; a 1,024-bit filter turns those away before the binary
/// search.
pub(super) struct AskedIds {
    filter: [u64; 16],
    /// Sorted, distinct.
    ids: Vec<u32>,
    /// Per id of `ids`: its range in `meets`.
    spans: Vec<(u32, u32)>,
    /// (need index, factor), grouped by id.
    meets: Vec<(u32, f32)>,
}

impl AskedIds {
    /// `asked`: every id the question names; `needs`: per need, the ids that meet it.
    pub(super) fn new(asked: Vec<u32>, needs: &[Need]) -> AskedIds {
        let mut pairs: Vec<(u32, u32, f32)> = needs
            .iter()
            .enumerate()
            .flat_map(|(i, n)| n.any_of.iter().map(move |&(id, f)| (id, i as u32, f)))
            .collect();
        pairs.sort_by_key(|&(id, need, _)| (id, need));
        let mut ids = asked;
        ids.extend(pairs.iter().map(|&(id, _, _)| id));
        ids.sort_unstable();
        ids.dedup();
        let mut filter = [0u64; 16];
        let mut spans = Vec::with_capacity(ids.len());
        let mut meets = Vec::with_capacity(pairs.len());
        let mut rest = pairs.as_slice();
        for &id in &ids {
            filter[(id as usize >> 6) & 15] |= 1 << (id & 63);
            let start = meets.len() as u32;
            while let Some((&(pid, need, f), tail)) = rest.split_first() {
                if pid != id {
                    break;
                }
                meets.push((need, f));
                rest = tail;
            }
            spans.push((start, meets.len() as u32));
        }
        AskedIds {
            filter,
            ids,
            spans,
            meets,
        }
    }

    /// The needs `id` meets, or None when the question does not name it.
    pub(super) fn get(&self, id: u32) -> Option<&[(u32, f32)]> {
        if self.filter[(id as usize >> 6) & 15] & (1 << (id & 63)) == 0 {
            return None;
        }
        let i = self.ids.binary_search(&id).ok()?;
        let (a, b) = self.spans[i];
        Some(&self.meets[a as usize..b as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(any_of: &[(u32, f32)]) -> Need {
        Need {
            weight: 1.0,
            any_of: any_of.to_vec(),
        }
    }

    #[test]
    fn an_id_tells_every_need_it_meets_and_unasked_ids_none() {
        // 7 is typed in need 0 and a synonym in need 2; 1,031 shares 7's filter bit; 40 is an
        // expanded term that meets no need.
        let needs = [
            need(&[(7, 1.0)]),
            need(&[(9, 1.0), (2_000, 0.9)]),
            need(&[(7, 0.9)]),
        ];
        let asked = AskedIds::new(vec![40, 7, 9, 7], &needs);
        assert_eq!(asked.get(7), Some(&[(0, 1.0), (2, 0.9)][..]));
        assert_eq!(asked.get(9), Some(&[(1, 1.0)][..]));
        assert_eq!(asked.get(2_000), Some(&[(1, 0.9)][..]));
        assert_eq!(asked.get(40), Some(&[][..]));
        for unasked in [0, 8, 39, 1_031, 2_001, u32::MAX] {
            assert_eq!(asked.get(unasked), None, "{unasked}");
        }
    }
}
