//! Running a plan on the engine: one session, one thread, every wait bounded by the
//! step's timeout.
//!
//! The runner reads the engine's events itself (no window, no store): received bytes of
//! the current connection go into one unconsumed buffer (TCP) or a queue of datagrams
//! (UDP) that expects match against; Tx events say a send was written; `Closed` and
//! `Stopped` say the connection is gone. An expect fails as soon as it cannot match any
//! more (a wrong byte, the connection closed), not only at its timeout.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use crate::engine::{
    ConnId, Direction, Engine, Event, EventReceiver, SendTarget, SessionConfig, SessionHandle,
    TcpClientConfig, TcpServerConfig, UdpConfig,
};

use super::matcher::{Outcome, match_message, match_stream};
use super::model::{Expect, Pattern, Plan, Step, StepAction, Target};
use super::report::{CaseReport, CaseStatus, Failure, PlanReport, RttReport};

/// Told about a run while it goes (for a listening address and a progress line).
pub trait Observer {
    /// A listening (TCP) or bound (UDP) target has this address.
    fn bound(&mut self, local: SocketAddr) {
        let _ = local;
    }

    /// Step `id` starts its run `k` of `n` (n = 1 outside repeats).
    fn step(&mut self, id: &str, k: u32, n: u32) {
        let _ = (id, k, n);
    }
}

/// An observer that ignores everything.
pub struct Quiet;

impl Observer for Quiet {}

/// Most time to wait for a session to stop at the end or on `close`.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// Runs `plan` against its target (or `target` instead) and reports every case.
pub fn run_plan(
    plan: &Plan,
    file: &str,
    target: Option<&Target>,
    observer: &mut dyn Observer,
) -> PlanReport {
    let target = target.cloned().unwrap_or_else(|| plan.target.clone());
    let started = Instant::now();
    let mut cases = vec![CaseReport::new(
        "target".into(),
        "target",
        target.to_string(),
    )];
    flatten(&plan.steps, "", &mut cases);
    let (engine, events) = Engine::new(4096, Box::new(|| {}));
    let mut runner = Runner {
        plan,
        target: target.clone(),
        engine,
        events,
        session: None,
        conn: None,
        closed: false,
        stopped: false,
        close_reason: None,
        buf: Vec::new(),
        datagrams: VecDeque::new(),
        tx_bytes: 0,
        last_error: None,
        waiting_clients: VecDeque::new(),
        cases,
        rtts: Vec::new(),
        last_send: None,
        send_counts: Vec::new(),
        observer,
    };
    let setup = Instant::now();
    let mut failure = match runner.open() {
        Ok(()) => {
            runner.cases[0].add_run(setup.elapsed());
            runner.cases[0].status = CaseStatus::Passed;
            None
        }
        Err(f) => {
            runner.cases[0].add_run(setup.elapsed());
            runner.cases[0].status = CaseStatus::Failed;
            Some(*f)
        }
    };
    if failure.is_none() {
        failure = runner.run_steps(&plan.steps, "", None).err().map(|f| *f);
    }
    if let Some(f) = &failure {
        // The failed step, and the repeats it is inside of.
        for case in runner.cases.iter_mut() {
            if case.id == f.case || f.case.starts_with(&format!("{}.", case.id)) {
                case.status = CaseStatus::Failed;
            }
        }
    }
    runner.finish();
    PlanReport {
        name: plan.name.clone(),
        file: file.to_string(),
        target: target.to_string(),
        encoding: plan.encoding,
        cases: runner.cases,
        rtts: runner.rtts,
        failure,
        elapsed: started.elapsed(),
    }
}

/// The cases of `steps`: each step, and a repeat's steps right after it.
fn flatten(steps: &[Step], prefix: &str, out: &mut Vec<CaseReport>) {
    for (i, step) in steps.iter().enumerate() {
        let id = format!("{prefix}{}", i + 1);
        out.push(CaseReport::new(
            id.clone(),
            step.action.kind(),
            step.title(),
        ));
        if let StepAction::Repeat { steps, .. } = &step.action {
            flatten(steps, &format!("{id}."), out);
        }
    }
}

struct Runner<'a> {
    plan: &'a Plan,
    target: Target,
    engine: Engine,
    events: EventReceiver,
    session: Option<SessionHandle>,
    /// The TCP connection the plan talks on.
    conn: Option<ConnId>,
    /// The current connection has ended.
    closed: bool,
    /// The current session has stopped.
    stopped: bool,
    close_reason: Option<String>,
    /// Received TCP bytes not consumed by an expect yet.
    buf: Vec<u8>,
    /// Received UDP datagrams not consumed yet.
    datagrams: VecDeque<Vec<u8>>,
    /// Bytes written so far (Tx events).
    tx_bytes: u64,
    last_error: Option<String>,
    /// Server: clients that joined while another was current.
    waiting_clients: VecDeque<ConnId>,
    cases: Vec<CaseReport>,
    rtts: Vec<RttReport>,
    /// The send just before: its id and when it was queued.
    last_send: Option<(String, Instant)>,
    /// Sends done per send-step id (`{counter}`).
    send_counts: Vec<(String, u64)>,
    observer: &'a mut dyn Observer,
}

impl Runner<'_> {
    fn fail(&self, case: &str, title: &str, message: String) -> Box<Failure> {
        Box::new(Failure {
            case: case.to_string(),
            title: title.to_string(),
            iteration: None,
            message,
            expected: None,
            expected_text: None,
            received: None,
        })
    }

    /// Handles one engine event.
    fn on_event(&mut self, event: Event) {
        let current = self.session.as_ref().map(SessionHandle::id);
        if Some(event.session()) != current {
            return;
        }
        match event {
            Event::Connected { conn, .. } => {
                self.conn = Some(conn);
                self.closed = false;
            }
            Event::ClientJoined { conn, .. } => {
                if self.conn.is_none() {
                    self.conn = Some(conn);
                    self.closed = false;
                } else {
                    self.waiting_clients.push_back(conn);
                }
            }
            Event::Data {
                conn,
                dir: Direction::Rx,
                bytes,
                ..
            } => {
                if self.target.is_udp() {
                    self.datagrams.push_back(bytes.to_vec());
                } else if conn.is_some() && conn == self.conn {
                    self.buf.extend_from_slice(&bytes);
                }
            }
            Event::Data {
                conn,
                dir: Direction::Tx,
                bytes,
                ..
            } => {
                if self.target.is_udp() || (conn.is_some() && conn == self.conn) {
                    self.tx_bytes += bytes.len() as u64;
                }
            }
            Event::Closed { conn, reason, .. } => {
                if Some(conn) == self.conn {
                    self.closed = true;
                    self.close_reason = Some(reason.to_string());
                } else {
                    self.waiting_clients.retain(|c| *c != conn);
                }
            }
            Event::Error { error, .. } => self.last_error = Some(error.to_string()),
            Event::Stopped { .. } => {
                self.stopped = true;
                self.closed = true;
            }
            Event::Connecting { .. }
            | Event::Listening { .. }
            | Event::ClientRefused { .. }
            | Event::Dropped { .. }
            | Event::Shed { .. }
            | Event::Notice { .. } => {}
        }
    }

    /// Handles events until `done` says so (Some) or `deadline` passes (None).
    fn wait<R>(
        &mut self,
        deadline: Instant,
        mut done: impl FnMut(&mut Self) -> Option<R>,
    ) -> Option<R> {
        loop {
            if let Some(r) = done(self) {
                return Some(r);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // One last look at what is already queued.
                while let Some(event) = self.events.try_recv() {
                    self.on_event(event);
                }
                return done(self);
            }
            if let Some(event) = self.events.recv_timeout(left) {
                self.on_event(event);
                while let Some(event) = self.events.try_recv() {
                    self.on_event(event);
                    if let Some(r) = done(self) {
                        return Some(r);
                    }
                }
            }
        }
    }

    /// Starts the session and waits for the connection (TCP).
    fn open(&mut self) -> Result<(), Box<Failure>> {
        let title = self.target.to_string();
        let config = match &self.target {
            Target::Connect {
                host,
                port,
                timeout,
            } => SessionConfig::TcpClient(TcpClientConfig {
                host: host.clone(),
                port: *port,
                connect_timeout: *timeout,
                ..TcpClientConfig::default()
            }),
            Target::Listen { host, port, .. } => SessionConfig::TcpServer(TcpServerConfig {
                host: host.clone(),
                port: *port,
                ..TcpServerConfig::default()
            }),
            Target::Udp { host, port, peer } => SessionConfig::Udp(UdpConfig {
                host: host.clone(),
                port: *port,
                peer: peer.clone(),
                ..UdpConfig::default()
            }),
        };
        let handle = self
            .engine
            .start(config)
            .map_err(|e| self.fail("target", &title, e.to_string()))?;
        if let (Target::Listen { .. } | Target::Udp { .. }, Some(local)) =
            (&self.target, handle.local_addr())
        {
            self.observer.bound(local);
        }
        self.session = Some(handle);
        self.connect_wait("target", &title)
    }

    /// Waits for the connection of a fresh client session or for a client to join.
    fn connect_wait(&mut self, case: &str, title: &str) -> Result<(), Box<Failure>> {
        let timeout = match &self.target {
            Target::Connect { timeout, .. } | Target::Listen { timeout, .. } => *timeout,
            Target::Udp { .. } => return Ok(()),
        };
        // A client's own connect timeout ends its session; allow it time to report.
        let deadline = Instant::now() + timeout + Duration::from_secs(1);
        let ok = self.wait(deadline, |r| {
            if r.conn.is_some() && !r.closed {
                Some(true)
            } else if r.stopped {
                Some(false)
            } else {
                None
            }
        });
        match ok {
            Some(true) => Ok(()),
            _ => {
                let what = match &self.target {
                    Target::Listen { .. } => {
                        format!("no client connected within {} ms", timeout.as_millis())
                    }
                    _ => match &self.last_error {
                        Some(e) => format!("cannot connect: {e}"),
                        None => format!("not connected within {} ms", timeout.as_millis()),
                    },
                };
                Err(self.fail(case, title, what))
            }
        }
    }

    /// Runs `steps`; `prefix` is the parent's id and a dot; `iteration` the repeat run.
    fn run_steps(
        &mut self,
        steps: &[Step],
        prefix: &str,
        iteration: Option<(u32, u32)>,
    ) -> Result<(), Box<Failure>> {
        for (i, step) in steps.iter().enumerate() {
            let id = format!("{prefix}{}", i + 1);
            let (k, n) = iteration.unwrap_or((1, 1));
            self.observer.step(&id, k, n);
            let started = Instant::now();
            let result = self.run_step(step, &id);
            let took = started.elapsed();
            if let Some(case) = self.cases.iter_mut().find(|c| c.id == id) {
                case.add_run(took);
                if result.is_ok() && case.status == CaseStatus::NotRun {
                    case.status = CaseStatus::Passed;
                }
            }
            if let Err(mut failure) = result {
                if failure.iteration.is_none() {
                    failure.iteration = iteration.filter(|(_, n)| *n > 1);
                }
                return Err(failure);
            }
        }
        Ok(())
    }

    fn run_step(&mut self, step: &Step, id: &str) -> Result<(), Box<Failure>> {
        let title = step.title();
        let is_send = matches!(step.action, StepAction::Send(_));
        let is_expect = matches!(step.action, StepAction::Expect(_));
        if !is_send && !is_expect {
            self.last_send = None;
        }
        match &step.action {
            StepAction::Send(send) => {
                let counter = match self.send_counts.iter_mut().find(|(s, _)| s == id) {
                    Some((_, n)) => {
                        *n += 1;
                        *n
                    }
                    None => {
                        self.send_counts.push((id.to_string(), 1));
                        1
                    }
                };
                let bytes = send.template.render_at(counter, SystemTime::now());
                self.send(id, &title, bytes, step.timeout.unwrap_or(self.plan.timeout))
            }
            StepAction::Expect(expect) => {
                let timeout = step.timeout.unwrap_or(self.plan.timeout);
                self.expect(id, &title, expect, timeout)
            }
            StepAction::ExpectClosed => {
                let timeout = step.timeout.unwrap_or(self.plan.timeout);
                let deadline = Instant::now() + timeout;
                match self.wait(deadline, |r| r.closed.then_some(())) {
                    Some(()) => Ok(()),
                    None => {
                        let mut f = self.fail(
                            id,
                            &title,
                            format!(
                                "the connection is still open after {} ms",
                                timeout.as_millis()
                            ),
                        );
                        f.received = Some(self.buf.clone());
                        Err(f)
                    }
                }
            }
            StepAction::Wait(d) => {
                let deadline = Instant::now() + *d;
                self.wait::<()>(deadline, |_| None);
                Ok(())
            }
            StepAction::Close => {
                self.close_current();
                Ok(())
            }
            StepAction::Reconnect => {
                self.close_current();
                self.reconnect(id, &title, step.timeout)
            }
            StepAction::Repeat { times, steps } => {
                for k in 1..=*times {
                    self.run_steps(steps, &format!("{id}."), Some((k, *times)))?;
                }
                Ok(())
            }
        }
    }

    fn send(
        &mut self,
        id: &str,
        title: &str,
        bytes: Vec<u8>,
        timeout: Duration,
    ) -> Result<(), Box<Failure>> {
        let Some(handle) = self.session.clone() else {
            return Err(self.fail(id, title, "no session".into()));
        };
        if !self.target.is_udp() && self.closed {
            let why = self.close_reason.clone().unwrap_or_else(|| "closed".into());
            return Err(self.fail(id, title, format!("the connection is gone ({why})")));
        }
        let target = match (&self.target, self.conn) {
            (Target::Listen { .. }, Some(conn)) => SendTarget::Conn(conn),
            _ => SendTarget::Default,
        };
        let want = self.tx_bytes + bytes.len() as u64;
        let queued_at = Instant::now();
        if let Err(e) = handle.send(target, bytes) {
            return Err(self.fail(id, title, format!("cannot send: {e}")));
        }
        self.last_send = Some((id.to_string(), queued_at));
        let deadline = queued_at + timeout.max(Duration::from_secs(1));
        match self.wait(deadline, |r| {
            if r.tx_bytes >= want {
                Some(true)
            } else if r.closed && !r.target.is_udp() {
                Some(false)
            } else {
                None
            }
        }) {
            Some(true) => Ok(()),
            Some(false) => {
                let why = self.close_reason.clone().unwrap_or_else(|| "closed".into());
                Err(self.fail(
                    id,
                    title,
                    format!("the connection ended before the bytes were written ({why})"),
                ))
            }
            None => Err(self.fail(
                id,
                title,
                format!("not written within {} ms", timeout.as_millis()),
            )),
        }
    }

    fn expect(
        &mut self,
        id: &str,
        title: &str,
        expect: &Expect,
        timeout: Duration,
    ) -> Result<(), Box<Failure>> {
        let deadline = Instant::now() + timeout;
        let udp = self.target.is_udp();
        let framing = self.plan.framing.clone();
        let outcome = self.wait(deadline, |r| {
            if udp {
                let message = r.datagrams.front()?;
                return Some(if match_message(expect, message) {
                    let message = r.datagrams.pop_front().unwrap_or_default();
                    Outcome::Matched {
                        consumed: 0,
                        message,
                    }
                } else {
                    Outcome::Mismatch(message.clone())
                });
            }
            match match_stream(expect, framing.as_ref(), &r.buf) {
                Outcome::Wait if r.closed => Some(Outcome::Wait),
                Outcome::Wait => None,
                Outcome::Matched { consumed, message } => {
                    r.buf.drain(..consumed.min(r.buf.len()));
                    Some(Outcome::Matched { consumed, message })
                }
                mismatch => Some(mismatch),
            }
        });
        let matched_at = Instant::now();
        let failure = |message: String, received: Vec<u8>| {
            let mut f = self.fail(id, title, message);
            match &expect.pattern {
                Pattern::Exact(b) | Pattern::Contains(b) => f.expected = Some(b.clone()),
                Pattern::Regex(_) | Pattern::Hex(_) => f.expected_text = Some(expect.describe()),
            }
            f.received = Some(received);
            f
        };
        match outcome {
            Some(Outcome::Matched { message, .. }) => {
                if !expect.checksum.verify(&message) {
                    return Err(failure(
                        format!(
                            "the message matched but its {} is wrong",
                            expect.checksum.name()
                        ),
                        message,
                    ));
                }
                if let Some((send, at)) = self.last_send.take() {
                    let sample = matched_at.duration_since(at);
                    match self
                        .rtts
                        .iter_mut()
                        .find(|r| r.send == send && r.expect == id)
                    {
                        Some(r) => r.samples.push(sample),
                        None => self.rtts.push(RttReport {
                            send,
                            expect: id.to_string(),
                            samples: vec![sample],
                        }),
                    }
                }
                Ok(())
            }
            Some(Outcome::Mismatch(got)) => {
                let what = if expect.frame || udp {
                    "the next message does not match"
                } else {
                    "different bytes arrived"
                };
                Err(failure(what.to_string(), got))
            }
            Some(Outcome::Wait) => {
                let why = self.close_reason.clone().unwrap_or_else(|| "closed".into());
                let received = self.buf.clone();
                Err(failure(
                    format!("the connection ended ({why}) before a match"),
                    received,
                ))
            }
            None => {
                let received = if udp {
                    self.datagrams.front().cloned().unwrap_or_default()
                } else {
                    self.buf.clone()
                };
                Err(failure(
                    format!("no match within {} ms", timeout.as_millis()),
                    received,
                ))
            }
        }
    }

    /// Closes the current connection and waits (bounded) until it is gone.
    fn close_current(&mut self) {
        let Some(handle) = self.session.clone() else {
            return;
        };
        match (&self.target, self.conn) {
            (Target::Listen { .. }, Some(conn)) if !self.closed => {
                let _ = handle.kick(conn);
                let deadline = Instant::now() + STOP_WAIT;
                self.wait(deadline, |r| r.closed.then_some(()));
            }
            (Target::Connect { .. }, _) if !self.stopped => {
                handle.stop();
                let deadline = Instant::now() + STOP_WAIT;
                self.wait(deadline, |r| r.stopped.then_some(()));
            }
            _ => {}
        }
        self.closed = true;
        self.buf.clear();
    }

    fn reconnect(
        &mut self,
        id: &str,
        title: &str,
        timeout: Option<Duration>,
    ) -> Result<(), Box<Failure>> {
        self.conn = None;
        self.close_reason = None;
        match self.target.clone() {
            Target::Connect {
                host,
                port,
                timeout: connect_timeout,
            } => {
                let timeout = timeout.unwrap_or(connect_timeout);
                let handle = self
                    .engine
                    .start(SessionConfig::TcpClient(TcpClientConfig {
                        host,
                        port,
                        connect_timeout: timeout,
                        ..TcpClientConfig::default()
                    }))
                    .map_err(|e| self.fail(id, title, e.to_string()))?;
                self.session = Some(handle);
                self.stopped = false;
                self.closed = false;
                self.tx_bytes = 0;
                self.connect_wait(id, title)
            }
            Target::Listen { .. } => {
                self.closed = false;
                if let Some(next) = self.waiting_clients.pop_front() {
                    self.conn = Some(next);
                    return Ok(());
                }
                self.connect_wait(id, title)
            }
            Target::Udp { .. } => Ok(()),
        }
    }

    /// Stops the session and waits (bounded) for its end.
    fn finish(&mut self) {
        if let Some(handle) = self.session.take() {
            handle.stop();
            let id = handle.id();
            let deadline = Instant::now() + STOP_WAIT;
            while Instant::now() < deadline {
                match self.events.recv_timeout(deadline - Instant::now()) {
                    Some(Event::Stopped { session, .. }) if session == id => break,
                    Some(_) => {}
                    None => break,
                }
            }
        }
        self.engine.stop_all();
    }
}
