//! Credentials read from a file (a mounted Secret) or the environment, that
//! never show in logs or `Debug` output.

/// A credential. `Debug` prints `<redacted>`; only [`Secret::expose`]
/// gives the value, for the client library that needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Reads the file at `source` (surrounding whitespace trimmed), or the
    /// environment variable `env_var` when `source` is `env:`. An empty
    /// value is an error: it is always a mistake in the deployment.
    pub fn read(source: &str, env_var: &str) -> Result<Self, String> {
        let text = if source == "env:" {
            std::env::var(env_var).map_err(|_| format!("{env_var} is not set"))?
        } else {
            std::fs::read_to_string(source).map_err(|e| format!("reading {source}: {e}"))?
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(format!("{source} holds no secret"));
        }
        Ok(Self(text.to_owned()))
    }

    /// A clap value parser: [`Secret::read`] with `env_var` for `env:`.
    pub fn parser(
        env_var: &'static str,
    ) -> impl Fn(&str) -> Result<Self, String> + Clone + Send + Sync + 'static {
        move |source| Self::read(source, env_var)
    }

    /// The value itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_files_trimmed_and_never_shows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("password");
        std::fs::write(&path, "  s3cret-pw\n").unwrap();
        let secret = Secret::read(path.to_str().unwrap(), "UNUSED").unwrap();
        assert_eq!(secret.expose(), "s3cret-pw");
        assert_eq!(format!("{secret:?}"), "<redacted>");
    }

    #[test]
    fn missing_or_empty_sources_are_errors_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let empty = empty.to_str().unwrap();
        assert!(Secret::read(empty, "UNUSED").unwrap_err().contains(empty));
        assert!(
            Secret::read("/nonexistent/pw", "UNUSED")
                .unwrap_err()
                .contains("/nonexistent/pw")
        );
        let unset = "VIGIL_TEST_SECRET_THAT_IS_NEVER_SET";
        assert_eq!(
            Secret::read("env:", unset).unwrap_err(),
            format!("{unset} is not set")
        );
    }
}
