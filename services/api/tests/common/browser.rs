//! A real browser for the console's tests: Debian's Chromium, headless,
//! driven through its chromedriver (both installed by `deploy/local/test`).
//! Each `Browser` is its own chromedriver and profile, so two are two
//! people at two desks.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use vigil_testkit::free_port;

/// The console's build, which the API serves in debug builds from disk.
pub fn console_dist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../console/dist")
}

/// Fails with what to run when the console is not built.
pub fn require_console_build() {
    let index = console_dist().join("index.html");
    assert!(
        index.exists(),
        "{} is missing: run console/build first (deploy/local/test does)",
        index.display()
    );
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    pub async fn start() -> anyhow::Result<Self> {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting chromedriver (apt-get install chromium-driver)")?;
        let profile = tempfile::tempdir()?;
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    // This machine has no internet: Chromium's own calls
                    // home would only fail, noisily.
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--window-size=1600,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("an object literal")
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(error) if Instant::now() > deadline => {
                    bail!("no browser session from chromedriver on {url}: {error}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Ok(Self {
            client,
            driver,
            _profile: profile,
        })
    }

    /// Opens the console and signs in with `token`; returns the header's
    /// who-am-I text once it shows.
    pub async fn sign_in(&self, origin: &str, token: &str) -> anyhow::Result<String> {
        self.client.goto(&format!("{origin}/")).await?;
        let input = self.testid("signin-token").await?;
        input.send_keys(token).await?;
        self.testid("signin-submit").await?.click().await?;
        Ok(self.testid("whoami").await?.text().await?)
    }

    /// The element with `data-testid`, waiting up to 10 s for it.
    pub async fn testid(&self, id: &str) -> anyhow::Result<fantoccini::elements::Element> {
        let selector = format!("[data-testid=\"{id}\"]");
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(&selector))
            .await
            .with_context(|| format!("no element {selector} within 10 s"))
    }

    /// Runs `script` (a function body; `arguments` are `args`).
    pub async fn run(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        Ok(self.client.execute(script, args).await?)
    }

    /// Polls `script` until it returns something truthy, for at most
    /// `limit`; returns that value.
    pub async fn until(
        &self,
        limit: Duration,
        what: &str,
        script: &str,
        args: Vec<Value>,
    ) -> anyhow::Result<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let value = self.run(script, args.clone()).await?;
            let truthy = match &value {
                Value::Null | Value::Bool(false) => false,
                Value::String(text) => !text.is_empty(),
                _ => true,
            };
            if truthy {
                return Ok(value);
            }
            if Instant::now() > deadline {
                bail!("{what}: not within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Entries of the browser's console at level SEVERE (errors, CSP
    /// violations, failed loads) since the last call.
    pub async fn console_errors(&self) -> anyhow::Result<Vec<String>> {
        let entries = self.client.issue_cmd(BrowserLog).await?;
        Ok(entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect())
    }

    /// Resources the page loaded from anywhere but `origin`.
    pub async fn foreign_resources(&self, origin: &str) -> anyhow::Result<Vec<String>> {
        let names = self
            .run(
                "return performance.getEntriesByType('resource').map(e => e.name)\
                   .concat([document.location.href]);",
                vec![],
            )
            .await?;
        Ok(names
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|name| !name.starts_with(&format!("{origin}/")))
            .map(str::to_owned)
            .collect())
    }

    /// Saves a PNG of the page to `path` (its folder made if missing).
    pub async fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let png = self.client.screenshot().await?;
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }

    /// Cuts the page off the network (as a dropped link does: calls in
    /// flight fail, new ones cannot connect), or gives it back.
    pub async fn set_offline(&self, offline: bool) -> anyhow::Result<()> {
        self.client.issue_cmd(NetworkConditions { offline }).await?;
        Ok(())
    }

    pub async fn close(mut self) -> anyhow::Result<()> {
        let closed = self.client.close().await;
        let _ = self.driver.kill().await;
        Ok(closed?)
    }
}

/// chromedriver's log endpoint (not in W3C WebDriver).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// chromedriver's network emulation: offline, or back to normal.
#[derive(Debug)]
struct NetworkConditions {
    offline: bool,
}

impl WebDriverCompatibleCommand for NetworkConditions {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/chromium/network_conditions",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        if self.offline {
            let body = json!({ "network_conditions": {
                "offline": true, "latency": 0,
                "download_throughput": 0, "upload_throughput": 0,
            }});
            (http::Method::POST, Some(body.to_string()))
        } else {
            (http::Method::DELETE, None)
        }
    }
}
