//! Numbered recording files with a maximum count: the naming plan, without file system access.

/// Numbered file names `<prefix>_<NNNN>.<extension>` in one directory, at most `max_files` of
/// them (0 = unlimited).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Rotation {
    /// The name before the number, e.g. "session".
    pub prefix: String,
    /// The extension without the dot, e.g. "pcapng".
    pub extension: String,
    /// How many files to keep, the new one included; 0 keeps all.
    pub max_files: usize,
}

/// What to do before starting the next file.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RotationPlan {
    /// The name of the new file.
    pub next: String,
    /// Old files to delete, oldest first. A failed deletion is not a reason to skip recording.
    pub delete: Vec<String>,
}

impl Rotation {
    /// A plan for `<prefix>_NNNN.<extension>` keeping `max_files`.
    pub fn new(prefix: &str, extension: &str, max_files: usize) -> Self {
        Self {
            prefix: prefix.to_owned(),
            extension: extension.to_owned(),
            max_files,
        }
    }

    /// The name of file number `index`.
    pub fn file_name(&self, index: u32) -> String {
        format!("{}_{index:04}.{}", self.prefix, self.extension)
    }

    /// The number of a file name of this rotation, `None` for other files.
    pub fn index_of(&self, name: &str) -> Option<u32> {
        let digits = name
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix('_')?
            .strip_suffix(self.extension.as_str())?
            .strip_suffix('.')?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }

    /// Given the names in the directory, the next file (one past the highest number) and the
    /// oldest files to delete so that, with the new one, at most `max_files` remain.
    pub fn plan<'a>(&self, existing: impl IntoIterator<Item = &'a str>) -> RotationPlan {
        let mut ours: Vec<(u32, &str)> = existing
            .into_iter()
            .filter_map(|n| Some((self.index_of(n)?, n)))
            .collect();
        ours.sort_unstable();
        let next_index = ours.last().map_or(1, |(i, _)| i.saturating_add(1));
        let delete = if self.max_files == 0 {
            Vec::new()
        } else {
            let keep_old = self.max_files - 1;
            let excess = ours.len().saturating_sub(keep_old);
            ours[..excess]
                .iter()
                .map(|(_, n)| (*n).to_owned())
                .collect()
        };
        RotationPlan {
            next: self.file_name(next_index),
            delete,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_names_and_deletes_the_oldest() {
        let r = Rotation::new("session", "pcapng", 3);
        assert_eq!(r.file_name(7), "session_0007.pcapng");
        assert_eq!(r.index_of("session_0012.pcapng"), Some(12));
        assert_eq!(r.index_of("session_12.pcap"), None);
        assert_eq!(r.index_of("other_0001.pcapng"), None);
        assert_eq!(r.index_of("session_.pcapng"), None);
        let plan = r.plan([
            "session_0002.pcapng",
            "notes.txt",
            "session_0010.pcapng",
            "session_0001.pcapng",
        ]);
        assert_eq!(plan.next, "session_0011.pcapng");
        assert_eq!(plan.delete, vec!["session_0001.pcapng".to_owned()]);
        assert_eq!(r.plan([]).next, "session_0001.pcapng");
        assert!(
            Rotation::new("s", "pcapng", 0)
                .plan(["s_0001.pcapng"])
                .delete
                .is_empty()
        );
        let keep_one = Rotation::new("s", "pcapng", 1).plan(["s_0001.pcapng", "s_0002.pcapng"]);
        assert_eq!(keep_one.delete.len(), 2);
    }
}
