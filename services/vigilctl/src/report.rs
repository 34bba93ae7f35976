//! Errors as a person reads them: one line of causes, and a gRPC status as
//! a short word and the server's message (`permission denied: zone
//! th.thuy-dinh is outside this token's scope (th.nga-nam)`) instead of
//! tonic's rendering (`status: PermissionDenied, message: ..., details:
//! [...], metadata: ...`).

use tonic::Code;

/// A status code in a few lower-case words.
fn code_words(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "cancelled",
        Code::Unknown => "error",
        Code::InvalidArgument => "invalid argument",
        Code::DeadlineExceeded => "deadline exceeded",
        Code::NotFound => "not found",
        Code::AlreadyExists => "already exists",
        Code::PermissionDenied => "permission denied",
        Code::ResourceExhausted => "resource exhausted",
        Code::FailedPrecondition => "failed precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out of range",
        Code::Unimplemented => "not implemented",
        Code::Internal => "internal error",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data loss",
        Code::Unauthenticated => "not authenticated",
    }
}

/// `permission denied: <the server's message>`.
pub fn status_text(status: &tonic::Status) -> String {
    let words = code_words(status.code());
    match status.message().trim() {
        "" => words.to_owned(),
        message => format!("{words}: {message}"),
    }
}

/// The error and its causes on one line, separated by colons. A gRPC status
/// ends the line: its message already says what its own causes were.
pub fn error_text(error: &anyhow::Error) -> String {
    let mut parts = Vec::new();
    for cause in error.chain() {
        if let Some(status) = cause.downcast_ref::<tonic::Status>() {
            parts.push(status_text(status));
            break;
        }
        parts.push(cause.to_string());
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    use super::*;

    #[test]
    fn a_status_reads_as_words_and_the_servers_message() {
        let status = tonic::Status::permission_denied(
            "zone th.thuy-dinh is outside this token's scope (th.nga-nam)",
        );
        let error = anyhow::Error::new(status);
        assert_eq!(
            error_text(&error),
            "permission denied: zone th.thuy-dinh is outside this token's scope (th.nga-nam)"
        );
    }

    #[test]
    fn context_comes_first_and_a_bare_status_is_its_word() {
        let error = Err::<(), _>(tonic::Status::unauthenticated(""))
            .context("listing events")
            .unwrap_err();
        assert_eq!(error_text(&error), "listing events: not authenticated");
    }

    #[test]
    fn other_errors_list_their_causes() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = Err::<(), _>(io).context("reading t.csv").unwrap_err();
        assert_eq!(error_text(&error), "reading t.csv: no such file");
    }
}
