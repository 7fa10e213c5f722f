//! Bounds-checked reading and writing of message bodies: the only place that indexes bytes.

use super::{MacAddress, Nid, Nmk, RunId, WireError};

/// A cursor over a message body; every read checks the length first and fails with
/// [`WireError::Truncated`] instead of panicking.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) const fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.saturating_add(len);
        let slice = self.bytes.get(self.pos..end).ok_or(WireError::Truncated {
            needed: end,
            available: self.bytes.len(),
        })?;
        self.pos = end;
        Ok(slice)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16_le(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn mac(&mut self) -> Result<MacAddress, WireError> {
        Ok(MacAddress(self.array()?))
    }

    pub(crate) fn run_id(&mut self) -> Result<RunId, WireError> {
        Ok(RunId(self.array()?))
    }

    pub(crate) fn nid(&mut self) -> Result<Nid, WireError> {
        Ok(Nid(self.array()?))
    }

    pub(crate) fn nmk(&mut self) -> Result<Nmk, WireError> {
        Ok(Nmk(self.array()?))
    }

    /// Everything not read yet.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        self.pos = self.bytes.len();
        rest
    }
}

/// Appends fields to a frame under construction.
pub(crate) struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    pub(crate) const fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out }
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.out.extend_from_slice(bytes);
        self
    }

    pub(crate) fn u8(&mut self, value: u8) -> &mut Self {
        self.out.push(value);
        self
    }

    pub(crate) fn u16_le(&mut self, value: u16) -> &mut Self {
        self.bytes(&value.to_le_bytes())
    }
}
