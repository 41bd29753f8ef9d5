//! The web console in a real browser: headless Chromium, driven over the DevTools protocol on
//! a pipe (`--remote-debugging-pipe`, two named pipes), signs in, sees a new ticket arrive
//! in the queue without reloading, acts on it through to archive, shows hostile content as
//! text, refuses forged forms, and keeps another department's person out (404, nothing in
//! the queue). Customers, without signing in, follow their ticket on the status page with the
//! last 4 digits of their phone, reply, rate it in review, and are locked out after five wrong
//! tries. With `CLOOP_CONSOLE_SCREENSHOTS=1` it writes the screenshots of `docs/console.md`
//! (queue, ticket page and status page, English and Chinese) into `docs/console/`.
//!
//! The set-up is a few functions ([`start_console`], [`Browser::start`], [`sign_in`]) so that
//! it moves to another harness as it is.

use crate::support::{start_pair, PairOptions};
use e2e::{get_ticket, workspace_root, Service, ServiceSpec, TestCluster};
use proto::v1;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The content of the ticket: a script tag and attribute-breaking quotes around words that
/// route it to after-sales.
const HOSTILE: &str = "售后响应慢，客服态度差 <script>window.__xss=1</script> \"><img src=x onerror=\"window.__xss=2\"> it's";

/// `cloop-console` against the cluster's workflow and intake, reading the cluster's tokens
/// file; its address as a URL.
fn start_console(cluster: &mut TestCluster) -> String {
    start_console_with(cluster, "")
}

/// The same with more lines of its `[console]` table.
fn start_console_with(cluster: &mut TestCluster, settings: &str) -> String {
    let console = cluster.spawn(
        Service::Console,
        ServiceSpec::new()
            .config(format!("[console]\nsession_ttl_secs = 600\n{settings}"))
            .env("CLOOP_LOG", "info"),
    );
    format!("http://{}", console.address())
}

/// The Chromium binary: `CLOOP_CHROMIUM`, else `chromium` on PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CLOOP_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromium"))
            .find(|path| path.exists())
    })
}

/// Headless Chromium and its DevTools connection (JSON messages ending in NUL on fd 3 and 4,
/// here two named pipes).
pub(crate) struct Browser {
    child: Child,
    commands: std::fs::File,
    messages: mpsc::Receiver<Value>,
    next_id: u64,
    _dir: tempfile::TempDir,
}

/// One tab of the browser, in its own cookie jar when made with [`Browser::person`].
#[derive(Clone)]
pub(crate) struct Tab {
    session: String,
}

impl Browser {
    pub(crate) fn start() -> Option<Browser> {
        let binary = chromium()?;
        let dir = tempfile::tempdir().expect("browser dir");
        let (input, output) = (dir.path().join("in"), dir.path().join("out"));
        for pipe in [&input, &output] {
            let made = Command::new("mkfifo").arg(pipe).status().expect("mkfifo");
            assert!(made.success(), "mkfifo {}", pipe.display());
        }
        let script = "exec \"$0\" --headless=new --no-sandbox --disable-gpu --no-first-run \
                      --disable-dev-shm-usage --remote-debugging-pipe --lang=en-US \
                      --user-data-dir=\"$3\" about:blank 3<\"$1\" 4>\"$2\"";
        let child = Command::new("sh")
            .args(["-c", script])
            .arg(&binary)
            .arg(&input)
            .arg(&output)
            .arg(dir.path().join("profile"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        let commands = std::fs::OpenOptions::new()
            .write(true)
            .open(&input)
            .expect("open the command pipe");
        let reader = std::fs::File::open(&output).expect("open the message pipe");
        let (sender, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(reader);
            let mut buffer = Vec::new();
            while matches!(reader.read_until(0, &mut buffer), Ok(count) if count > 0) {
                buffer.pop();
                if let Ok(message) = serde_json::from_slice::<Value>(&buffer) {
                    if sender.send(message).is_err() {
                        break;
                    }
                }
                buffer.clear();
            }
        });
        Some(Browser {
            child,
            commands,
            messages,
            next_id: 0,
            _dir: dir,
        })
    }

    /// Sends one DevTools command and waits for its answer; panics when it is refused.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        let answer = self.exchange(session, method, params);
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// Sends one DevTools command and waits for its whole answer (result or error).
    fn exchange(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).expect("json");
        bytes.push(0);
        self.commands.write_all(&bytes).expect("send to chromium");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let answer = self
                .messages
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("chromium did not answer {method}"));
            if answer["id"] == json!(id) {
                return answer;
            }
        }
    }

    /// A new tab with a cookie jar of its own: one person's browser.
    pub(crate) fn person(&mut self) -> Tab {
        let context = self.call(None, "Target.createBrowserContext", json!({}));
        let target = self.call(
            None,
            "Target.createTarget",
            json!({ "url": "about:blank", "browserContextId": context["browserContextId"] }),
        );
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        let session = attached["sessionId"]
            .as_str()
            .expect("session id")
            .to_owned();
        self.call(
            Some(&session),
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
        );
        Tab { session }
    }

    /// The value of a JavaScript expression in the tab (promises awaited).
    pub(crate) fn eval(&mut self, tab: &Tab, expression: &str) -> Value {
        let result = self.call(
            Some(&tab.session),
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}: {result}"
        );
        result["result"]["value"].clone()
    }

    /// Waits until `condition` (JavaScript) is true in the tab.
    pub(crate) fn wait_for(&mut self, tab: &Tab, condition: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            // While the tab navigates, an evaluation may be refused ("Inspected target
            // navigated or closed") or lose its context: that is "not yet", not a failure.
            let answer = self.exchange(
                Some(&tab.session),
                "Runtime.evaluate",
                json!({ "expression": format!("!!({condition})"), "returnByValue": true, "awaitPromise": true }),
            );
            if answer["result"]["result"]["value"] == json!(true) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Opens `url` and waits until the page has loaded.
    pub(crate) fn open(&mut self, tab: &Tab, url: &str) {
        self.eval(tab, "window.__old = 1");
        self.call(Some(&tab.session), "Page.navigate", json!({ "url": url }));
        self.wait_loaded(tab);
    }

    /// Waits for the next page (after a navigation, a click on a submit button).
    fn wait_loaded(&mut self, tab: &Tab) {
        let loaded = self.wait_for(
            tab,
            "window.__old === undefined && document.readyState === 'complete'",
            Duration::from_secs(20),
        );
        assert!(
            loaded,
            "the page did not load: {}",
            self.eval(tab, "location.href")
        );
    }

    /// Clicks the submit button of form `form` (a CSS selector) after filling `fields`.
    pub(crate) fn submit(&mut self, tab: &Tab, form: &str, fields: &[(&str, &str)]) {
        let mut script = format!("window.__old = 1; const f = document.querySelector({form:?});");
        for (name, value) in fields {
            script.push_str(&format!(
                "f.querySelector('[name=\"{name}\"]').value = {};",
                json!(value)
            ));
        }
        script.push_str("f.querySelector('button[type=submit]').click(); true");
        self.eval(tab, &script);
        self.wait_loaded(tab);
    }

    /// A PNG of the whole page.
    fn screenshot(&mut self, tab: &Tab, path: &Path) {
        let metrics = self.call(Some(&tab.session), "Page.getLayoutMetrics", json!({}));
        let size = &metrics["cssContentSize"];
        let height = size["height"]
            .as_f64()
            .unwrap_or(900.0)
            .clamp(300.0, 4000.0);
        let width = size["width"].as_f64().unwrap_or(1280.0);
        let shot = self.call(
            Some(&tab.session),
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 }
            }),
        );
        let data = shot["data"].as_str().expect("screenshot data");
        std::fs::write(path, base64_decode(data)).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self
            .commands
            .write_all(b"{\"id\":0,\"method\":\"Browser.close\",\"params\":{}}\0");
        let _ = e2e::wait_until(Duration::from_secs(5), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Chromium's own processes follow their parent; the shell exec'd into it.
    }
}

/// Standard base64 (the screenshots of the DevTools protocol).
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |byte: u8| -> u32 {
        match byte {
            b'A'..=b'Z' => u32::from(byte - b'A'),
            b'a'..=b'z' => u32::from(byte - b'a') + 26,
            b'0'..=b'9' => u32::from(byte - b'0') + 52,
            b'+' => 62,
            _ => 63,
        }
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|byte| *byte != b'=' && !byte.is_ascii_whitespace())
        .collect();
    let mut bytes = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut bits = 0_u32;
        for (index, byte) in chunk.iter().enumerate() {
            bits |= value(*byte) << (18 - 6 * index);
        }
        let count = chunk.len().saturating_sub(1);
        bytes.extend_from_slice(&bits.to_be_bytes()[1..1 + count]);
    }
    bytes
}

/// Signs in on the console's form with `token`; the tab then shows the queue.
pub(crate) fn sign_in(browser: &mut Browser, tab: &Tab, console: &str, token: &str) {
    browser.open(tab, &format!("{console}/login"));
    browser.submit(tab, "form[action='/login']", &[("token", token)]);
    let path = browser.eval(tab, "location.pathname");
    assert_eq!(path, json!("/queue"), "signed in as {token}");
}

/// Submits the hostile ticket through intake; returns its id.
async fn submit_ticket(cluster: &TestCluster) -> String {
    let request = v1::SubmitRequest {
        channel: "app".into(),
        external_id: "console-1".into(),
        customer: Some(v1::Customer {
            phone: "13800138000".into(),
            ..Default::default()
        }),
        content: HOSTILE.into(),
        ..Default::default()
    };
    cluster.submit_as("t-adapter", request).await
}

async fn ticket(cluster: &TestCluster, ticket_id: &str) -> v1::Ticket {
    get_ticket(&mut cluster.tickets_client(), ticket_id, "t-service")
        .await
        .expect("ticket")
}

/// Waits until the ticket satisfies `done`, as the workflow tells.
pub(crate) async fn wait_ticket(
    cluster: &TestCluster,
    ticket_id: &str,
    done: impl Fn(&v1::Ticket) -> bool,
) -> v1::Ticket {
    cluster
        .wait_ticket(ticket_id, "t-service", Duration::from_secs(30), done)
        .await
}

pub(crate) fn step_is(step: v1::Step) -> impl Fn(&v1::Ticket) -> bool {
    move |ticket| ticket.step == step as i32
}

/// What a browser scenario starts with: the browser, a pair with its console (its address),
/// and where the screenshots go; `None` (said on stderr) when chromium is not installed.
pub(crate) fn browser_scenario() -> Option<(Browser, TestCluster, String, Option<PathBuf>)> {
    let Some(browser) = Browser::start() else {
        eprintln!("skipped: chromium is not installed (make tools installs it)");
        return None;
    };
    let mut pair = start_pair(PairOptions::default());
    let console = start_console(&mut pair);
    Some((browser, pair, console, screenshot_dir()))
}

/// Where the screenshots go: `docs/console/` when asked for, else nowhere.
fn screenshot_dir() -> Option<PathBuf> {
    std::env::var_os("CLOOP_CONSOLE_SCREENSHOTS").map(|_| {
        let dir = workspace_root().join("docs/console");
        std::fs::create_dir_all(&dir).expect("docs/console");
        dir
    })
}

/// The status of a same-origin `fetch` in the tab (the person's cookies go with it).
fn fetch_status(browser: &mut Browser, tab: &Tab, path: &str, body: Option<&str>) -> Value {
    let options = match body {
        Some(body) => format!(
            "{{ method: 'POST', headers: {{ 'content-type': 'application/x-www-form-urlencoded' }}, body: {} , redirect: 'manual' }}",
            json!(body)
        ),
        None => "{}".to_owned(),
    };
    browser.eval(
        tab,
        &format!("fetch({}, {options}).then(r => r.status)", json!(path)),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_work_a_ticket_to_archive_in_the_browser() {
    let Some((mut browser, pair, console, shots)) = browser_scenario() else {
        return;
    };

    // Customer service watches the whole queue; a new ticket appears without a reload.
    let service = browser.person();
    sign_in(&mut browser, &service, &console, "t-service");
    assert!(
        browser.wait_for(
            &service,
            "document.documentElement.dataset.live === '1'",
            Duration::from_secs(10)
        ),
        "live updates connected"
    );
    browser.eval(&service, "window.__same_page = 1");
    let ticket_id = submit_ticket(&pair).await;
    let arrived = browser.wait_for(
        &service,
        &format!("document.querySelector('[data-ticket=\"{ticket_id}\"]')"),
        Duration::from_secs(20),
    );
    assert!(arrived, "the new ticket appears in the queue");
    assert_eq!(
        browser.eval(&service, "window.__same_page"),
        json!(1),
        "without a reload"
    );
    let row = browser.eval(
        &service,
        &format!("document.querySelector('[data-ticket=\"{ticket_id}\"]').textContent"),
    );
    assert!(
        row.as_str().is_some_and(|text| text.contains("<script>")),
        "escaped in the queue: {row}"
    );
    if let Some(dir) = &shots {
        browser.screenshot(&service, &dir.join("queue-en.png"));
    }

    // The ticket page shows the content as text: no script ran, no element was injected.
    browser.open(&service, &format!("{console}/tickets/{ticket_id}"));
    let content = browser.eval(
        &service,
        "document.getElementById('ticket-content').textContent",
    );
    assert_eq!(content, json!(HOSTILE));
    assert_eq!(
        browser.eval(&service, "typeof window.__xss"),
        json!("undefined")
    );
    assert_eq!(
        browser.eval(
            &service,
            "document.querySelectorAll('main script, main img').length"
        ),
        json!(0)
    );

    // Classified by the rules, or by customer service on the form.
    let current = wait_ticket(&pair, &ticket_id, |ticket| {
        ticket.step >= v1::Step::Classify as i32
    })
    .await;
    if current.step == v1::Step::Classify as i32 {
        browser.submit(
            &service,
            "#form-classify",
            &[
                ("kind", "complaint"),
                ("content_type", "service"),
                ("priority", "high"),
            ],
        );
    }
    let handled = wait_ticket(&pair, &ticket_id, step_is(v1::Step::Handle)).await;
    assert_eq!(
        handled.step,
        v1::Step::Handle as i32,
        "in a department's hands"
    );
    let department = handled.department.clone();

    // The department's agent: forged forms are refused and change nothing.
    let agent = browser.person();
    sign_in(
        &mut browser,
        &agent,
        &console,
        &format!("t-agent-{department}"),
    );
    let form_path = format!("/tickets/{ticket_id}/acknowledge");
    let without = fetch_status(
        &mut browser,
        &agent,
        &form_path,
        Some("message=forged&command_id=f1"),
    );
    let wrong = fetch_status(
        &mut browser,
        &agent,
        &form_path,
        Some("message=forged&command_id=f2&csrf_token=00ff"),
    );
    assert_eq!((without, wrong), (json!(403), json!(403)), "forged forms");
    assert_eq!(
        ticket(&pair, &ticket_id).await.version,
        handled.version,
        "nothing recorded"
    );

    // A refusal is shown on the form, then the agent acknowledges and proposes a fix.
    browser.open(&agent, &format!("{console}/tickets/{ticket_id}"));
    browser.submit(
        &agent,
        "#form-propose",
        &[("outcome", "declined"), ("text", "no")],
    );
    let refusal = browser.eval(
        &agent,
        "(document.querySelector('#form-propose .refusal') || {}).textContent || ''",
    );
    assert!(
        refusal.as_str().is_some_and(|text| !text.is_empty()),
        "the refusal is shown on the form"
    );
    browser.submit(
        &agent,
        "#form-acknowledge",
        &[("message", "我们正在处理 <b>")],
    );
    browser.submit(
        &agent,
        "#form-propose",
        &[("outcome", "fixed"), ("text", "已修复")],
    );
    if let Some(dir) = &shots {
        browser.screenshot(&agent, &dir.join("ticket-en.png"));
    }
    let reviewed = wait_ticket(&pair, &ticket_id, step_is(v1::Step::Review)).await;
    assert_eq!(reviewed.step, v1::Step::Review as i32);

    // Another department's person: 404 for the page, nothing of it in the queue.
    let other_department = if department == "marketing" {
        "product"
    } else {
        "marketing"
    };
    let stranger = browser.person();
    sign_in(
        &mut browser,
        &stranger,
        &console,
        &format!("t-agent-{other_department}"),
    );
    assert_eq!(
        fetch_status(
            &mut browser,
            &stranger,
            &format!("/tickets/{ticket_id}"),
            None
        ),
        json!(404)
    );
    let queue_text = browser.eval(&stranger, "document.body.innerText");
    let queue_text = queue_text.as_str().unwrap_or_default();
    assert!(
        !queue_text.contains(&ticket_id) && !queue_text.contains("售后响应慢"),
        "{queue_text}"
    );

    // Chinese, by the switch (an administrator's browser); the screenshots of docs/console.md.
    let admin = browser.person();
    sign_in(&mut browser, &admin, &console, "t-admin");
    browser.open(&admin, &format!("{console}/lang/zh?back=/queue"));
    assert_eq!(
        browser.eval(&admin, "document.documentElement.lang"),
        json!("zh-CN")
    );
    assert!(browser
        .eval(&admin, "document.body.innerText")
        .as_str()
        .is_some_and(|text| text.contains("工单队列")));
    if let Some(dir) = &shots {
        browser.screenshot(&admin, &dir.join("queue-zh.png"));
        browser.open(&admin, &format!("{console}/tickets/{ticket_id}"));
        browser.screenshot(&admin, &dir.join("ticket-zh.png"));
    }

    // On a phone's width nothing runs off the side; the keyboard reaches the skip link first.
    browser.call(
        Some(&admin.session),
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 390, "height": 800, "deviceScaleFactor": 1, "mobile": true }),
    );
    for path in ["/queue".to_owned(), format!("/tickets/{ticket_id}")] {
        browser.open(&admin, &format!("{console}{path}"));
        let width = browser.eval(&admin, "document.documentElement.scrollWidth");
        assert!(
            width.as_u64().is_some_and(|width| width <= 390),
            "{path} is {width} px wide"
        );
    }
    for kind in ["keyDown", "keyUp"] {
        browser.call(
            Some(&admin.session),
            "Input.dispatchKeyEvent",
            json!({ "type": kind, "key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9 }),
        );
    }
    assert_eq!(
        browser.eval(&admin, "document.activeElement.className"),
        json!("skip")
    );

    // Managers' and auditors' pages (an admin may open both; an agent neither).
    browser.open(&admin, &format!("{console}/reports"));
    assert_eq!(
        browser.eval(&admin, "!!document.querySelector('iframe.report[sandbox]')"),
        json!(true),
        "the monthly report is embedded"
    );
    browser.open(&admin, &format!("{console}/audit"));
    let audit = browser.eval(&admin, "document.body.innerText");
    assert!(
        audit
            .as_str()
            .is_some_and(|text| text.contains("哈希链校验通过")),
        "{audit}"
    );
    assert_eq!(
        fetch_status(&mut browser, &stranger, "/reports", None),
        json!(403)
    );

    // Customer service records the review and archives.
    browser.open(&service, &format!("{console}/tickets/{ticket_id}"));
    browser.submit(
        &service,
        "#form-review",
        &[("satisfaction", "5"), ("comment", "满意")],
    );
    browser.submit(&service, "#form-archive", &[]);
    let archived = wait_ticket(&pair, &ticket_id, step_is(v1::Step::Archive)).await;
    assert_eq!(
        archived.step,
        v1::Step::Archive as i32,
        "archived from the console"
    );
    let history = browser.eval(&service, "document.querySelector('ol.timeline').innerText");
    assert!(
        history
            .as_str()
            .is_some_and(|text| text.contains("archived") && text.contains("zhang.san")),
        "{history}"
    );

    // Sign-out ends the session: the queue is the sign-in page again.
    browser.eval(
        &service,
        "window.__old = 1; document.querySelector('form[action=\"/logout\"] button').click()",
    );
    browser.wait_loaded(&service);
    assert_eq!(browser.eval(&service, "location.pathname"), json!("/login"));
    browser.open(&service, &format!("{console}/queue"));
    assert_eq!(browser.eval(&service, "location.pathname"), json!("/login"));
}

/// The digits of the phone on the customers' tickets (`web_submission`'s `13800138000`).
const DIGITS: &str = "8000";

/// A ticket from the web form that the rules route to a department at once; its id.
async fn customer_ticket(cluster: &TestCluster, external_id: &str) -> String {
    let request = e2e::web_submission(external_id, "APP卡顿，打开很慢，经常闪退");
    let ticket_id = cluster.submit_as("t-adapter", request).await;
    wait_ticket(cluster, &ticket_id, step_is(v1::Step::Handle)).await;
    ticket_id
}

/// The department proposes a fix (and the head's approval, when the policy asks for one, is
/// given by the administrator): the ticket is in review.
pub(crate) async fn to_review(cluster: &TestCluster, ticket_id: &str) {
    let mut tickets = cluster.tickets_client();
    tickets
        .add_note(e2e::authorized(
            v1::AddNoteRequest {
                ticket_id: ticket_id.into(),
                command_id: format!("{ticket_id}-note"),
                text: "已为您升级到最新版本".into(),
                visibility: v1::NoteVisibility::Customer as i32,
                ..Default::default()
            },
            "t-admin",
        ))
        .await
        .expect("note to the customer");
    let proposed = tickets
        .propose_solution(e2e::authorized(
            v1::ProposeSolutionRequest {
                ticket_id: ticket_id.into(),
                command_id: format!("{ticket_id}-propose"),
                outcome: v1::Outcome::Fixed as i32,
                text: "已修复卡顿".into(),
                ..Default::default()
            },
            "t-admin",
        ))
        .await
        .expect("propose")
        .into_inner();
    if proposed
        .ticket
        .is_some_and(|ticket| ticket.step == v1::Step::Handle as i32)
    {
        tickets
            .approve_solution(e2e::authorized(
                v1::ApproveSolutionRequest {
                    ticket_id: ticket_id.into(),
                    command_id: format!("{ticket_id}-approve"),
                    approve: true,
                    ..Default::default()
                },
                "t-admin",
            ))
            .await
            .expect("approve");
    }
    wait_ticket(cluster, ticket_id, step_is(v1::Step::Review)).await;
}

/// Looks up `ticket_id` with `digits` on the status page.
fn look_up(browser: &mut Browser, tab: &Tab, console: &str, ticket_id: &str, digits: &str) {
    browser.open(tab, &format!("{console}/status"));
    browser.submit(
        tab,
        "#form-status",
        &[("ticket", ticket_id), ("digits", digits)],
    );
}

/// Whether the page shows the ticket's status (the step is only shown with the right digits).
fn shows_status(browser: &mut Browser, tab: &Tab) -> bool {
    browser.eval(tab, "!!document.getElementById('status-step')") == json!(true)
}

/// Rates the shown ticket with `score`.
fn rate(browser: &mut Browser, tab: &Tab, score: u32) {
    browser.eval(
        tab,
        &format!(
            "document.querySelector('#form-rate input[name=\"satisfaction\"][value=\"{score}\"]').checked = true"
        ),
    );
    browser.submit(tab, "#form-rate", &[("comment", "谢谢")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn customers_follow_reply_to_and_rate_their_ticket_in_the_browser() {
    let Some((mut browser, pair, console, shots)) = browser_scenario() else {
        return;
    };
    let happy = customer_ticket(&pair, "customer-happy").await;
    let unhappy = customer_ticket(&pair, "customer-unhappy").await;
    let locked = customer_ticket(&pair, "customer-locked").await;
    to_review(&pair, &happy).await;
    to_review(&pair, &unhappy).await;
    let customer = browser.person();

    // Wrong digits show nothing of the ticket: the same page as an unknown ticket.
    look_up(&mut browser, &customer, &console, &happy, "0000");
    assert!(!shows_status(&mut browser, &customer));
    let wrong = browser.eval(&customer, "document.querySelector('main').innerText");
    let nobody = domain::ids::TicketIdGenerator::new(99)
        .next(chrono::Utc::now())
        .to_string();
    look_up(&mut browser, &customer, &console, &nobody, DIGITS);
    let unknown = browser.eval(&customer, "document.querySelector('main').innerText");
    assert_eq!(
        wrong, unknown,
        "one answer for wrong digits and an unknown ticket"
    );
    assert!(wrong.as_str().is_some_and(|text| !text.contains("已修复")));

    // The right digits: the step, the expected time, the note to the customer; no phone.
    look_up(&mut browser, &customer, &console, &happy, DIGITS);
    assert!(shows_status(&mut browser, &customer));
    let page = browser.eval(&customer, "document.body.innerText");
    let page = page.as_str().unwrap_or_default().to_owned();
    assert!(
        page.contains("已为您升级到最新版本") && page.contains("已修复卡顿"),
        "{page}"
    );
    assert!(
        !page.contains("13800138000") && !page.contains("138****"),
        "{page}"
    );
    if let Some(dir) = &shots {
        browser.screenshot(&customer, &dir.join("status-en.png"));
    }

    // A reply is recorded on the same ticket, as the customer's words.
    browser.submit(&customer, "#form-reply", &[("text", "好的，我再试试")]);
    assert!(shows_status(&mut browser, &customer));
    let events = e2e::history(&mut pair.tickets_client(), &happy, "t-service").await;
    let reply = events
        .iter()
        .rev()
        .find(|event| event.event_type == "customer_replied")
        .expect("the reply");
    assert!(reply.payload.contains("好的，我再试试"), "{reply:?}");
    assert!(
        reply.payload.contains("\"channel\":\"status_page\""),
        "{reply:?}"
    );
    assert_eq!(
        reply.actor.as_ref().map(|actor| actor.principal.as_str()),
        Some("customer")
    );

    // A good rating is the review; customer service archives. A bad one reopens.
    rate(&mut browser, &customer, 5);
    let rated = wait_ticket(&pair, &happy, |ticket| ticket.satisfaction == 5).await;
    assert_eq!(rated.step, v1::Step::Review as i32);
    pair.tickets_client()
        .archive(e2e::authorized(
            v1::ArchiveRequest {
                ticket_id: happy.clone(),
                command_id: format!("{happy}-archive"),
                ..Default::default()
            },
            "t-service",
        ))
        .await
        .expect("archive");
    wait_ticket(&pair, &happy, step_is(v1::Step::Archive)).await;
    look_up(&mut browser, &customer, &console, &unhappy, DIGITS);
    rate(&mut browser, &customer, 1);
    let reopened = wait_ticket(&pair, &unhappy, |ticket| ticket.round == 2).await;
    assert_eq!(reopened.step, v1::Step::Handle as i32, "reopened");

    // Five wrong tries lock the ticket: the sixth, with the right digits, shows nothing.
    for wrong in ["0001", "0002", "0003", "0004", "0005"] {
        look_up(&mut browser, &customer, &console, &locked, wrong);
        assert!(!shows_status(&mut browser, &customer));
    }
    look_up(&mut browser, &customer, &console, &locked, DIGITS);
    assert!(
        !shows_status(&mut browser, &customer),
        "locked for 15 minutes"
    );
    let sixth = browser.eval(&customer, "document.querySelector('main').innerText");
    assert_eq!(
        sixth.as_str().map(|text| text.replace(&locked, "T")),
        wrong.as_str().map(|text| text.replace(&happy, "T")),
        "the same answer as wrong digits"
    );

    // Forged customer forms are refused; the page works in Chinese; the public list.
    let forged = fetch_status(
        &mut browser,
        &customer,
        "/status",
        Some(&format!("ticket={unhappy}&digits={DIGITS}&csrf_token=00ff")),
    );
    assert_eq!(forged, json!(403));
    browser.open(&customer, &format!("{console}/lang/zh?back=/status"));
    look_up(&mut browser, &customer, &console, &happy, DIGITS);
    assert!(browser
        .eval(&customer, "document.body.innerText")
        .as_str()
        .is_some_and(|text| text.contains("当前环节") && text.contains("归档")));
    if let Some(dir) = &shots {
        browser.screenshot(&customer, &dir.join("status-zh.png"));
    }
    browser.call(
        Some(&customer.session),
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 390, "height": 800, "deviceScaleFactor": 1, "mobile": true }),
    );
    look_up(&mut browser, &customer, &console, &unhappy, DIGITS);
    let width = browser.eval(&customer, "document.documentElement.scrollWidth");
    assert!(
        width.as_u64().is_some_and(|width| width <= 390),
        "the status page is {width} px wide on a phone"
    );
    browser.open(&customer, &format!("{console}/adopted"));
    assert!(browser
        .eval(&customer, "document.body.innerText")
        .as_str()
        .is_some_and(|text| text.contains("已采纳的建议")));
}

/// The queue's place of a ticket as the workflow orders it: breached, warning, the rest; the
/// next deadline (respond-by until the first response, then resolve-by; none last).
fn urgency(ticket: &v1::Ticket) -> (u8, i64, i32) {
    let rank = match v1::SlaState::try_from(ticket.sla_state) {
        Ok(v1::SlaState::Breached) => 0,
        Ok(v1::SlaState::Warning) => 1,
        _ => 2,
    };
    let next = if ticket.responded_at.is_none() {
        ticket.respond_by.as_ref().or(ticket.resolve_by.as_ref())
    } else {
        ticket.resolve_by.as_ref()
    };
    let (seconds, nanos) = next.map_or((i64::MAX, 0), |at| (at.seconds, at.nanos));
    (rank, seconds, nanos)
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_pages_continue_one_another_in_urgency_order() {
    let mut pair = start_pair(PairOptions::default());
    let console = start_console_with(&mut pair, "queue_page_size = 2\n");
    let address = console.trim_start_matches("http://").to_owned();
    let contents = [
        "APP卡顿，打开很慢",
        "售后响应慢，客服态度差",
        "快递送货太慢了，等了一个星期才到",
        "网站登录页面一直报错，无法登录",
        "APP闪退，打不开",
    ];
    let mut ids = Vec::new();
    for (index, content) in contents.iter().enumerate() {
        let request = v1::SubmitRequest {
            channel: "app".into(),
            external_id: format!("queue-page-{index}"),
            customer: Some(v1::Customer {
                phone: "13800138000".into(),
                ..Default::default()
            }),
            content: (*content).into(),
            ..Default::default()
        };
        ids.push(pair.submit_as("t-adapter", request).await);
    }
    let mut admin = pair.staff("t-admin").await;
    for id in &ids {
        wait_ticket(&pair, id, |ticket| ticket.respond_by.is_some()).await;
    }
    // The first ticket has answered: its next deadline is its resolve-by, after the others'.
    admin
        .acknowledge(&ids[0], "on it")
        .await
        .expect("acknowledge");
    let mut tickets = Vec::new();
    for id in &ids {
        tickets.push(admin.get(id).await.expect("ticket"));
    }
    // Receipt order breaks ties (the ids were handed out in it).
    tickets.sort_by_key(|ticket| {
        (
            urgency(ticket),
            ids.iter().position(|id| *id == ticket.ticket_id),
        )
    });
    let expected: Vec<String> = tickets
        .iter()
        .map(|ticket| ticket.ticket_id.clone())
        .collect();
    assert_ne!(
        expected, ids,
        "the urgency order is not the receipt order here"
    );

    let address_for = address.clone();
    let pages = tokio::task::spawn_blocking(move || {
        let session = e2e::http::sign_in(&address_for, "t-service");
        let mut pages = Vec::new();
        let mut path = Some("/queue".to_owned());
        while let Some(next) = path {
            let answer = e2e::http::request(&address_for, "GET", &next, &session, "");
            assert_eq!(answer.status, 200, "{next}: {}", answer.body);
            assert!(
                answer.header("server-timing").is_some(),
                "{:?}",
                answer.headers
            );
            path = answer.link("next");
            pages.push((next, answer.ticket_rows(), answer.link("prev")));
        }
        // "Previous" on the second page is the first page.
        let back = pages[1].2.clone().expect("a previous link on page 2");
        let first = e2e::http::request(&address_for, "GET", &back, &session, "");
        // A page token the workflow did not give out is a bad request naming it.
        let forged = e2e::http::request(&address_for, "GET", "/queue?after=12", &session, "");
        (pages, first.ticket_rows(), forged.status, forged.body)
    })
    .await
    .expect("the pages");
    let (pages, first_again, forged_status, forged_body) = pages;
    let rows: Vec<Vec<String>> = pages.iter().map(|(_, rows, _)| rows.clone()).collect();
    assert_eq!(rows.len(), 3, "five tickets, two a page: {pages:?}");
    assert_eq!(
        rows.concat(),
        expected,
        "page after page in the workflow's order"
    );
    assert_eq!(first_again, rows[0]);
    assert_eq!(forged_status, 400, "{forged_body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_suggestion_is_confirmed_in_one_click_in_english_and_chinese() {
    let Some(mut browser) = Browser::start() else {
        eprintln!("skipped: chromium is not installed (make tools installs it)");
        return;
    };
    let mut pair = start_pair(PairOptions {
        workflow: format!("\n{}", crate::classifier::SUGGEST_ALWAYS),
        ..PairOptions::default()
    });
    let console = start_console(&mut pair);
    let service = browser.person();
    sign_in(&mut browser, &service, &console, "t-service");
    for (lang, title, button, marker) in [
        (
            "en",
            "Suggested classification",
            "Confirm suggestion",
            "suggested",
        ),
        ("zh", "建议分类", "确认建议", "有建议"),
    ] {
        browser.open(&service, &format!("{console}/lang/{lang}?back=/queue"));
        let request = e2e::web_submission(&format!("suggest-{lang}"), crate::classifier::UNPLACED);
        let ticket_id = pair.submit_as("t-adapter", request).await;
        let suggested = wait_ticket(&pair, &ticket_id, |ticket| ticket.suggestion.is_some()).await;
        let department = suggested
            .suggestion
            .as_ref()
            .and_then(|suggestion| suggestion.department.first())
            .map(|value| value.value.clone())
            .expect("a suggested department");

        // The queue marks the ticket.
        browser.open(&service, &format!("{console}/queue"));
        let marked = browser.wait_for(
            &service,
            &format!("document.querySelector('[data-ticket=\"{ticket_id}\"] .suggested')"),
            Duration::from_secs(10),
        );
        assert!(marked, "{lang}: the queue marks the suggestion");
        assert_eq!(
            browser.eval(
                &service,
                &format!("document.querySelector('[data-ticket=\"{ticket_id}\"] .suggested').textContent.trim()")
            ),
            json!(marker)
        );

        // The ticket page shows the values with their probabilities and one button.
        browser.open(&service, &format!("{console}/tickets/{ticket_id}"));
        assert_eq!(
            browser.eval(
                &service,
                "document.querySelector('#h-suggestion').textContent.trim()"
            ),
            json!(title)
        );
        assert_eq!(
            browser.eval(
                &service,
                "document.querySelector('#confirm-suggestion').textContent.trim()"
            ),
            json!(button)
        );
        let shown = browser.eval(
            &service,
            "document.querySelector('#suggestion').textContent",
        );
        let shown = shown.as_str().unwrap_or_default().to_owned();
        assert!(shown.contains('%') && shown.contains("sha256:"), "{shown}");
        if let Some(dir) = screenshot_dir() {
            browser.screenshot(&service, &dir.join(format!("suggestion-{lang}.png")));
        }

        // One click: classified with the suggestion and dispatched to its department.
        browser.submit(&service, "#form-confirm-suggestion", &[]);
        let handled = wait_ticket(&pair, &ticket_id, step_is(v1::Step::Handle)).await;
        assert_eq!(handled.department, department, "{lang}");
        assert!(
            handled.suggestion.is_none(),
            "{lang}: the suggestion is used up"
        );
        assert!(!handled.classification_model_version.is_empty(), "{lang}");
        browser.open(&service, &format!("{console}/tickets/{ticket_id}"));
        assert_eq!(
            browser.eval(&service, "document.querySelector('#suggestion') === null"),
            json!(true),
            "{lang}: no suggestion left to confirm"
        );

        // The classification shows the extracted terms, under their label in the language.
        assert!(!handled.terms.is_empty(), "{lang}: terms of {ticket_id}");
        let label = if lang == "en" { "Terms" } else { "提取词" };
        assert_eq!(
            browser.eval(
                &service,
                "document.querySelector('dd.terms').previousElementSibling.textContent.trim()"
            ),
            json!(label)
        );
        let words = browser.eval(&service, "document.querySelector('dd.terms').textContent");
        let words = words.as_str().unwrap_or_default().to_owned();
        for term in &handled.terms {
            assert!(words.contains(term.as_str()), "{lang}: {term} in {words}");
        }
    }
}
