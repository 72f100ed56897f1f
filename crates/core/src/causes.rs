//! How an error is said on one line: its own text, then each of its causes (`source()`), each
//! said once — `dispatch failure: io error: … Connection refused`. The one printer of error
//! chains of the workspace (the CLI's, the functions' reports, the SDK adapters' messages).

use std::error::Error;

/// `err` and its causes, joined by `": "`. A cause whose text the line already holds is left
/// out (the AWS SDK's errors often repeat their source's text in their own), and so is one
/// with no text.
pub fn chain(err: &dyn Error) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Link(&'static str, Option<Box<Link>>);

    impl std::fmt::Display for Link {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Link {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|l| l as &(dyn Error + 'static))
        }
    }

    fn link(text: &'static str, cause: Option<Link>) -> Link {
        Link(text, cause.map(Box::new))
    }

    #[test]
    fn every_cause_is_said_once_in_order() {
        let io = link("Connection refused", None);
        let err = link("dispatch failure", Some(link("io error", Some(io))));
        assert_eq!(
            chain(&err),
            "dispatch failure: io error: Connection refused"
        );
        assert_eq!(chain(&link("alone", None)), "alone");
    }

    #[test]
    fn a_cause_already_said_or_empty_is_left_out() {
        let err = link(
            "timeout: operation timed out",
            Some(link(
                "operation timed out",
                Some(link("", Some(link("deep", None)))),
            )),
        );
        assert_eq!(chain(&err), "timeout: operation timed out: deep");
    }
}
