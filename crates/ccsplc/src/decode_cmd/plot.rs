pub(crate) fn render(_t: &str, _s: &[super::values::Sample], _b: &[super::values::Band]) -> String {
    String::new()
}
