//! Secret references: a setting that names where a secret is kept instead
//! of holding it, so vpp never stores it in clear. `env:NAME` is an
//! environment variable of the server process; `file:/path` is a file
//! (for example a container secret mount), read without its trailing
//! newline. They are read when needed, so a rotated secret takes effect
//! without restarting vpp.

/// Checks that `reference` is `env:NAME` (letters, digits, `_`) or
/// `file:/absolute/path`; the error says what is expected.
pub fn check_reference(reference: &str) -> Result<(), String> {
    let env_ok = reference
        .strip_prefix("env:")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    let file_ok = reference.strip_prefix("file:/").is_some_and(|p| !p.is_empty());
    if env_ok || file_ok {
        Ok(())
    } else {
        // The value is not repeated: it may be a secret pasted by mistake.
        Err("must be a reference like env:NAME or file:/run/secrets/name; secrets are never stored in clear".into())
    }
}

/// Reads the secret a reference names (a `file:` path may be relative to
/// the working directory here); an empty secret is an error, so it never
/// matches an empty password. The error names the variable or file, never
/// the secret.
pub fn resolve(reference: &str) -> Result<String, String> {
    let (secret, source) = if let Some(name) = reference.strip_prefix("env:") {
        let value = std::env::var(name).map_err(|_| format!("the environment variable `{name}` is not set"))?;
        (value, format!("the environment variable `{name}`"))
    } else if let Some(path) = reference.strip_prefix("file:").filter(|p| !p.is_empty()) {
        let value = std::fs::read_to_string(path)
            .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
            .map_err(|e| format!("cannot read `{path}`: {e}"))?;
        (value, format!("`{path}`"))
    } else {
        return Err("a secret reference is env:NAME or file:/path".into());
    };
    if secret.is_empty() {
        return Err(format!("{source} is empty"));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_a_variable_or_an_absolute_file() {
        assert!(check_reference("env:OCPP_CS_1").is_ok());
        assert!(check_reference("file:/run/secrets/cs1").is_ok());
        for bad in ["hunter2", "env:", "env:A-B", "file:relative", "file:/"] {
            assert!(check_reference(bad).is_err(), "{bad}");
        }
        let e = check_reference("plain-password-here").unwrap_err();
        assert!(e.contains("env:NAME") && !e.contains("plain-password"), "the value is not repeated: {e}");
    }

    #[test]
    fn a_file_is_read_without_its_newline_and_a_missing_one_is_named() {
        let path = std::env::temp_dir().join(format!("vpp-secret-{}", std::process::id()));
        std::fs::write(&path, "s3cret\n").unwrap();
        assert_eq!(resolve(&format!("file:{}", path.display())).unwrap(), "s3cret");
        std::fs::write(&path, "\n").unwrap();
        assert!(resolve(&format!("file:{}", path.display())).unwrap_err().contains("is empty"));
        std::fs::remove_file(&path).unwrap();
        assert!(resolve(&format!("file:{}", path.display())).unwrap_err().contains("cannot read"));
        assert!(resolve("env:VPP_SURELY_UNSET_VARIABLE_1").unwrap_err().contains("VPP_SURELY_UNSET_VARIABLE_1"));
    }
}
