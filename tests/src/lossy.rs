//! A UDP proxy on loopback that drops and delays datagrams: a bad or a long
//! network path between one client (the agent) and the relay. The fault
//! tests lose datagrams through it; `lifeline-bench screen --rtt-ms` delays
//! them (a long path) and with `--link-mbit` also sends them at a link's
//! rate, dropping what overflows its queue (a thin uplink). The benchmark's
//! paths also drop datagrams larger than an Ethernet path carries, as real
//! ones do (without that, path MTU discovery would send 64 KB probes down
//! a thin link and stall it for seconds). `dropped` counts every loss.

use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    net::SocketAddr,
    sync::{
        Arc, Condvar, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// The longest a rate-limited link queues a datagram before sending it.
pub const MAX_QUEUE: Duration = Duration::from_millis(250);

type Queue = Mutex<BinaryHeap<Reverse<(Instant, u64, bool, Vec<u8>)>>>;

/// Largest UDP payload on a path with a 1,500-byte Ethernet MTU (IPv4).
pub const ETHERNET_PAYLOAD: usize = 1_472;

/// What the path between the agent and the relay does to datagrams.
#[derive(Clone, Copy, Debug, Default)]
pub struct Link {
    /// Share (0..1) of datagrams lost each way.
    pub loss: f64,
    /// Delay each way.
    pub delay: Duration,
    /// Bytes a second each way, if limited: datagrams leave one after
    /// another at that rate, behind a router queue of at most
    /// [`MAX_QUEUE`] (later ones are dropped).
    pub rate: Option<u64>,
    /// Largest datagram carried; bigger ones are dropped.
    pub mtu: Option<usize>,
}

/// The proxy; stops when dropped.
pub struct LossyProxy {
    pub addr: SocketAddr,
    pub forwarded: Arc<AtomicU64>,
    pub dropped: Arc<AtomicU64>,
    /// The delay each way now, in microseconds ([`LossyProxy::set_delay`]).
    delay_us: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl LossyProxy {
    /// Listens on 127.0.0.1, forwards to `relay`, dropping `loss` (0..1) of
    /// the datagrams each way and delaying the rest by `delay` each way.
    pub fn start(relay: SocketAddr, loss: f64, delay: Duration) -> Self {
        Self::start_link(
            relay,
            Link {
                loss,
                delay,
                ..Link::default()
            },
        )
    }

    /// As [`LossyProxy::start`], for any [`Link`].
    pub fn start_link(relay: SocketAddr, link: Link) -> Self {
        let Link {
            loss,
            delay,
            rate,
            mtu,
        } = link;
        // Buffers as large as the relay's, so that a burst of screen
        // frames is not lost here unless `loss` says so.
        let bind = || lifeline_net::udp::bind(([127, 0, 0, 1], 0).into());
        let front = Arc::new(bind().expect("bind front"));
        let back = Arc::new(bind().expect("bind back"));
        back.connect(relay).expect("connect back");
        for s in [&front, &back] {
            s.set_read_timeout(Some(Duration::from_millis(50)))
                .expect("timeout");
        }
        let addr = front.local_addr().expect("addr");
        let queue: Arc<(Queue, Condvar)> = Arc::default();
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let forwarded = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let seq = Arc::new(AtomicU64::new(0));
        let delay_us = Arc::new(AtomicU64::new(
            u64::try_from(delay.as_micros()).unwrap_or(u64::MAX),
        ));
        let threshold = (loss * f64::from(u32::MAX)) as u64;
        let mut threads = Vec::new();
        for upward in [true, false] {
            let sock = if upward { front.clone() } else { back.clone() };
            let (queue, client, stop, dropped, seq, delay_us) = (
                queue.clone(),
                client.clone(),
                stop.clone(),
                dropped.clone(),
                seq.clone(),
                delay_us.clone(),
            );
            threads.push(std::thread::spawn(move || {
                // xorshift, seeded per direction: the same losses every run.
                let mut rng: u64 = if upward {
                    0x9e37_79b9_7f4a_7c15
                } else {
                    0xd1b5_4a32_d192_ed03
                };
                let mut buf = vec![0u8; 65_536];
                // When the link is done sending what it holds.
                let mut free_at = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, from)) = sock.recv_from(&mut buf) else {
                        continue;
                    };
                    if upward {
                        *client.lock().expect("lock") = Some(from);
                    }
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    if (rng & 0xffff_ffff) < threshold || mtu.is_some_and(|m| n > m) {
                        dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let now = Instant::now();
                    let delay = Duration::from_micros(delay_us.load(Ordering::Relaxed));
                    let mut due = now + delay;
                    if let Some(rate) = rate {
                        let start = free_at.max(now);
                        if start - now > MAX_QUEUE {
                            dropped.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        free_at = start + Duration::from_secs_f64(n as f64 / rate.max(1) as f64);
                        due = free_at + delay;
                    }
                    let n_seq = seq.fetch_add(1, Ordering::Relaxed);
                    let (q, cv) = &*queue;
                    q.lock()
                        .expect("lock")
                        .push(Reverse((due, n_seq, upward, buf[..n].to_vec())));
                    cv.notify_one();
                }
            }));
        }
        {
            let (queue, client, stop, forwarded) = (
                queue.clone(),
                client.clone(),
                stop.clone(),
                forwarded.clone(),
            );
            let (front, back) = (front.clone(), back.clone());
            threads.push(std::thread::spawn(move || {
                let (q, cv) = &*queue;
                let mut heap = q.lock().expect("lock");
                while !stop.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    match heap.peek() {
                        Some(Reverse((due, ..))) if *due <= now => {
                            let Some(Reverse((_, _, upward, bytes))) = heap.pop() else {
                                continue;
                            };
                            let sent = if upward {
                                back.send(&bytes).is_ok()
                            } else if let Some(to) = *client.lock().expect("lock") {
                                front.send_to(&bytes, to).is_ok()
                            } else {
                                false
                            };
                            if sent {
                                forwarded.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Some(Reverse((due, ..))) => {
                            let wait = *due - now;
                            heap = cv.wait_timeout(heap, wait).expect("wait").0;
                        }
                        None => {
                            heap = cv
                                .wait_timeout(heap, Duration::from_millis(50))
                                .expect("wait")
                                .0;
                        }
                    }
                }
            }));
        }
        Self {
            addr,
            forwarded,
            dropped,
            delay_us,
            stop,
            threads,
        }
    }

    /// From now on, delays datagrams by `delay` each way (the path got
    /// longer or shorter mid-session: a VPN came up, a route changed).
    pub fn set_delay(&self, delay: Duration) {
        self.delay_us.store(
            u64::try_from(delay.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
