//! The spaces a session wants, by id: a sorted `Vec`, because a session wants few spaces and a
//! `BTreeMap` would hold a whole node (about 0.7 KiB) for one of them on every idle connection.

/// A map from space id to `V`, iterated in id order (the order subscriptions are replayed).
#[derive(Debug)]
pub(crate) struct SpaceMap<V> {
    entries: Vec<(String, V)>,
}

impl<V> SpaceMap<V> {
    pub(crate) const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    fn find(&self, space: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(id, _)| id.as_str().cmp(space))
    }

    pub(crate) fn get(&self, space: &str) -> Option<&V> {
        self.find(space).ok().map(|i| &self.entries[i].1)
    }

    pub(crate) fn get_mut(&mut self, space: &str) -> Option<&mut V> {
        self.find(space).ok().map(|i| &mut self.entries[i].1)
    }

    pub(crate) fn contains_key(&self, space: &str) -> bool {
        self.find(space).is_ok()
    }

    /// The value for `space`, inserting `make()` first if there is none.
    pub(crate) fn get_or_insert_with(&mut self, space: &str, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.find(space) {
            Ok(i) => i,
            Err(i) => {
                // Doubling from one, not from `Vec`'s four: most sessions want one space.
                if self.entries.len() == self.entries.capacity() {
                    self.entries.reserve_exact(self.entries.len().max(1));
                }
                self.entries.insert(i, (space.to_owned(), make()));
                i
            }
        };
        &mut self.entries[i].1
    }

    pub(crate) fn remove(&mut self, space: &str) -> Option<V> {
        let i = self.find(space).ok()?;
        let (_, value) = self.entries.remove(i);
        if self.entries.is_empty() {
            self.entries.shrink_to(0);
        }
        Some(value)
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &String> {
        self.entries.iter().map(|(id, _)| id)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut V)> {
        self.entries.iter_mut().map(|(id, v)| (&*id, v))
    }
}

#[cfg(test)]
mod tests {
    use super::SpaceMap;

    #[test]
    fn keeps_ids_sorted_and_finds_each_one() {
        let mut map = SpaceMap::new();
        for (id, v) in [("b", 2), ("a", 1), ("c", 3), ("b", 9)] {
            *map.get_or_insert_with(id, || v) += 0;
        }
        assert_eq!(
            map.keys().map(String::as_str).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(map.get("b"), Some(&2), "an existing entry is kept");
        assert_eq!(map.remove("a"), Some(1));
        assert!(!map.contains_key("a") && map.contains_key("c"));
        *map.get_mut("c").expect("c") = 7;
        assert_eq!(map.values().copied().collect::<Vec<_>>(), [2, 7]);
        assert_eq!(map.remove("zz"), None);
    }
}
