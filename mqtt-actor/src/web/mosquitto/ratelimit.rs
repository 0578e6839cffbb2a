//! Failed logins per client address, and per account: after `max_failures`
//! failures within one window (5 a minute per address by default), that
//! address (or account) is refused (429) until its window ends, whether its
//! next password is right or not. The same counter serves both: its keys are
//! addresses ([`IpAddr`]) or digests of account names ([`Account`]).
//!
//! A window opens at an address's first failure and lasts a fixed time; it is
//! not extended by further attempts, so a refused client knows when to retry
//! ([`LoginLimiter::begin`] says). Success does not reset the count: a user who
//! knows one password cannot use it to keep guessing another.
//!
//! Use: hold the limiter in a `Mutex`, lock it for `begin` before checking the
//! password (not during the check), and for `forgive` after a right one.
//!
//! Memory is bounded: at most `capacity` keys are tracked; expired windows
//! go first, and when every window is live the oldest is dropped (an attacker
//! with that many addresses gets a few more guesses, nobody gets locked out).
//! IPv6 clients are counted per /64, which one host usually owns whole;
//! IPv4-mapped IPv6 addresses count as the IPv4 address.
//!
//! An account's limit must not let a stranger lock its user out: its window
//! is fixed (so a lock ends by itself), and the caller lets an address the
//! account signed in from before past it (`mod.rs`: known addresses), so the
//! user's own address is only ever under its own per-address limit.
//!
//! Time is passed in (`now`), so tests drive the clock.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

/// The default limit per address: more failures than this in a window are
/// refused.
pub const MAX_FAILURES: u32 = 5;
/// The default window per address.
pub const WINDOW: Duration = Duration::from_secs(60);
/// The default number of addresses (or accounts) tracked at once.
pub const CAPACITY: usize = 10_000;
/// The limit per account: failures from all addresses together.
pub const ACCOUNT_MAX_FAILURES: u32 = 20;
/// The window per account: fixed from its first failure, so a lock ends at
/// most this long after it began.
pub const ACCOUNT_WINDOW: Duration = Duration::from_secs(600);

/// What a limiter counts by: each key stands for the clients it counts as one.
pub trait LimitKey: Copy + Eq + Hash {
    /// The key this one is counted under.
    fn counted_as(self) -> Self;
}

/// An account, as a digest of its name (so that a long name costs no more
/// memory than a short one).
pub type Account = [u8; 16];

impl LimitKey for Account {
    fn counted_as(self) -> Self {
        self
    }
}

/// IPv6 clients count per /64, which one host usually owns whole;
/// IPv4-mapped IPv6 addresses count as the IPv4 address.
impl LimitKey for IpAddr {
    fn counted_as(self) -> Self {
        match self {
            IpAddr::V4(_) => self,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let s = v6.segments();
                    IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
                }
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Counts failed logins per address (or account); see the module docs.
#[derive(Debug)]
pub struct LoginLimiter<K = IpAddr> {
    max_failures: u32,
    window: Duration,
    capacity: usize,
    windows: HashMap<K, Window>,
    /// Addresses in the order their windows opened, to expire and evict from
    /// the front without scanning; an entry whose window was replaced since is
    /// skipped when it comes up.
    opened: VecDeque<(Instant, K)>,
}

impl Default for LoginLimiter<IpAddr> {
    fn default() -> Self {
        LoginLimiter::new(MAX_FAILURES, WINDOW, CAPACITY)
    }
}

impl LoginLimiter<Account> {
    /// The limit per account: [`ACCOUNT_MAX_FAILURES`] per [`ACCOUNT_WINDOW`].
    pub fn per_account() -> LoginLimiter<Account> {
        LoginLimiter::new(ACCOUNT_MAX_FAILURES, ACCOUNT_WINDOW, CAPACITY)
    }
}

impl<K: LimitKey> LoginLimiter<K> {
    /// A limiter allowing `max_failures` failures per `window`, tracking at
    /// most `capacity` keys (at least one).
    pub fn new(max_failures: u32, window: Duration, capacity: usize) -> LoginLimiter<K> {
        LoginLimiter {
            max_failures,
            window,
            capacity: capacity.max(1),
            windows: HashMap::new(),
            opened: VecDeque::new(),
        }
    }

    /// Whether an attempt from `addr` would be refused now, without counting
    /// one: `Err(wait)` with the time until its window ends.
    pub fn check(&mut self, addr: K, now: Instant) -> Result<(), Duration> {
        self.expire(now);
        match self.windows.get(&addr.counted_as()) {
            Some(w) if w.failures >= self.max_failures => {
                Err((w.started + self.window).saturating_duration_since(now))
            }
            _ => Ok(()),
        }
    }

    /// Before checking a password from `addr`: `Err(wait)` when the address
    /// has used up its failures, with the time until its window ends.
    /// Otherwise the attempt counts as a failure from now on, so that many
    /// attempts in flight at once cannot overrun the limit; [`forgive`] takes
    /// it back when the password was right.
    ///
    /// [`forgive`]: LoginLimiter::forgive
    pub fn begin(&mut self, addr: K, now: Instant) -> Result<(), Duration> {
        self.expire(now);
        let key = addr.counted_as();
        if let Some(window) = self.windows.get_mut(&key) {
            if window.failures >= self.max_failures {
                return Err((window.started + self.window).saturating_duration_since(now));
            }
            window.failures += 1;
            return Ok(());
        }
        if self.opened.len() >= 2 * self.capacity {
            // Forgiven windows leave stale entries; drop them so the queue
            // stays within twice the capacity.
            let windows = &self.windows;
            self.opened
                .retain(|(started, addr)| windows.get(addr).is_some_and(|w| w.started == *started));
        }
        while self.windows.len() >= self.capacity {
            let Some((started, oldest)) = self.opened.pop_front() else {
                break;
            };
            self.remove_if_opened_at(oldest, started);
        }
        self.windows.insert(
            key,
            Window {
                started: now,
                failures: 1,
            },
        );
        self.opened.push_back((now, key));
        Ok(())
    }

    /// After a right password from `addr`: takes back the failure [`begin`]
    /// counted. Earlier failures stay counted.
    ///
    /// [`begin`]: LoginLimiter::begin
    pub fn forgive(&mut self, addr: K) {
        let key = addr.counted_as();
        if let Some(window) = self.windows.get_mut(&key) {
            window.failures = window.failures.saturating_sub(1);
            if window.failures == 0 {
                // Its entry in `opened` goes stale and is skipped later.
                self.windows.remove(&key);
            }
        }
    }

    #[cfg(test)]
    /// How many addresses are tracked now.
    pub fn tracked(&self) -> usize {
        self.windows.len()
    }

    /// Drops windows that ended by `now`.
    fn expire(&mut self, now: Instant) {
        while let Some(&(started, addr)) = self.opened.front() {
            if started + self.window > now {
                break;
            }
            self.opened.pop_front();
            self.remove_if_opened_at(addr, started);
        }
    }

    fn remove_if_opened_at(&mut self, addr: K, started: Instant) {
        if self
            .windows
            .get(&addr)
            .is_some_and(|w| w.started == started)
        {
            self.windows.remove(&addr);
        }
    }
}

/// The addresses each account signed in from, newest last: the account's
/// limit does not apply to them. Bounded: past `capacity` pairs the oldest
/// is forgotten (its next sign-in is under the account's limit again).
#[derive(Debug)]
pub struct KnownAddresses {
    capacity: usize,
    pairs: std::collections::HashSet<(Account, IpAddr)>,
    order: VecDeque<(Account, IpAddr)>,
}

impl Default for KnownAddresses {
    fn default() -> Self {
        KnownAddresses {
            capacity: CAPACITY,
            pairs: Default::default(),
            order: VecDeque::new(),
        }
    }
}

impl KnownAddresses {
    /// Whether `account` signed in from `addr` (as the limiter counts it).
    pub fn contains(&self, account: Account, addr: IpAddr) -> bool {
        self.pairs.contains(&(account, addr.counted_as()))
    }

    /// `account` signed in from `addr`.
    pub fn insert(&mut self, account: Account, addr: IpAddr) {
        let pair = (account, addr.counted_as());
        if !self.pairs.insert(pair) {
            return;
        }
        self.order.push_back(pair);
        while self.order.len() > self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.pairs.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    fn fail(limiter: &mut LoginLimiter, addr: IpAddr, now: Instant, times: u32) {
        for _ in 0..times {
            assert!(limiter.begin(addr, now).is_ok());
        }
    }

    #[test]
    fn five_failures_are_answered_then_the_address_waits_for_the_minute_to_end() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        fail(&mut limiter, ip(1), t0, 5);
        let at = |s| t0 + Duration::from_secs(s);
        assert_eq!(limiter.check(ip(1), at(0)), Err(Duration::from_secs(60)));
        assert_eq!(limiter.check(ip(1), at(59)), Err(Duration::from_secs(1)));
        // Other addresses are not affected.
        assert!(limiter.check(ip(2), at(59)).is_ok());
        // The window ends a minute after the first failure.
        assert!(limiter.check(ip(1), at(60)).is_ok());
        assert_eq!(limiter.tracked(), 0);
    }

    #[test]
    fn attempts_in_flight_count_against_the_limit() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        let admitted = (0..20).filter(|_| limiter.begin(ip(1), t0).is_ok()).count();
        assert_eq!(admitted, 5);
    }

    #[test]
    fn a_right_password_takes_back_only_its_own_attempt() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        fail(&mut limiter, ip(1), t0, 4);
        assert!(limiter.begin(ip(1), t0).is_ok());
        limiter.forgive(ip(1));
        // The four failures stand: one more attempt, then a wait.
        fail(&mut limiter, ip(1), t0, 1);
        assert!(limiter.begin(ip(1), t0).is_err());
        // Forgiving an address with no window is harmless.
        limiter.forgive(ip(2));
        assert_eq!(limiter.tracked(), 1);
    }

    #[test]
    fn failures_spread_over_more_than_a_minute_are_not_refused() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        fail(&mut limiter, ip(1), t0, 4);
        fail(&mut limiter, ip(1), t0 + Duration::from_secs(61), 5);
        assert!(limiter.check(ip(1), t0 + Duration::from_secs(62)).is_err());
    }

    #[test]
    fn the_window_does_not_slide_with_later_failures() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        fail(&mut limiter, ip(1), t0, 1);
        fail(&mut limiter, ip(1), t0 + Duration::from_secs(50), 4);
        assert_eq!(
            limiter.check(ip(1), t0 + Duration::from_secs(50)),
            Err(Duration::from_secs(10))
        );
        assert!(limiter.check(ip(1), t0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn memory_stays_bounded_and_the_oldest_address_goes_first() {
        let mut limiter = LoginLimiter::new(2, WINDOW, 3);
        let t0 = Instant::now();
        for (i, last) in [1u8, 2, 3, 4].into_iter().enumerate() {
            fail(
                &mut limiter,
                ip(last),
                t0 + Duration::from_secs(i as u64),
                2,
            );
        }
        assert_eq!(limiter.tracked(), 3);
        let later = t0 + Duration::from_secs(5);
        assert!(limiter.check(ip(1), later).is_ok(), "evicted");
        for last in [2, 3, 4] {
            assert!(limiter.check(ip(last), later).is_err(), "{last}");
        }
        // Expired windows make room before live ones are evicted.
        let much_later = t0 + Duration::from_secs(61);
        assert!(limiter.begin(ip(5), much_later).is_ok());
        assert_eq!(limiter.tracked(), 3);
        assert!(limiter.check(ip(3), much_later).is_err());
    }

    #[test]
    fn a_flood_of_addresses_never_grows_past_capacity() {
        let mut limiter = LoginLimiter::new(5, WINDOW, 100);
        let t0 = Instant::now();
        for i in 0..10_000u32 {
            let addr = IpAddr::V4(Ipv4Addr::from(i));
            let _ = limiter.begin(addr, t0 + Duration::from_millis(u64::from(i)));
            assert!(limiter.tracked() <= 100);
        }
        assert!(limiter.opened.len() <= 100);
    }

    #[test]
    fn successful_logins_from_many_addresses_leave_nothing_behind() {
        let mut limiter = LoginLimiter::new(5, WINDOW, 10);
        let t0 = Instant::now();
        for i in 0..1000u32 {
            let addr = IpAddr::V4(Ipv4Addr::from(i));
            assert!(limiter.begin(addr, t0).is_ok());
            limiter.forgive(addr);
        }
        assert_eq!(limiter.tracked(), 0);
        assert!(limiter.opened.len() <= 20, "{}", limiter.opened.len());
    }

    #[test]
    fn an_account_is_refused_after_twenty_failures_for_ten_minutes_at_most() {
        let mut accounts = LoginLimiter::per_account();
        let (alice, bob) = ([1u8; 16], [2u8; 16]);
        let t0 = Instant::now();
        for _ in 0..ACCOUNT_MAX_FAILURES {
            assert!(accounts.begin(alice, t0).is_ok());
        }
        assert_eq!(accounts.begin(alice, t0), Err(ACCOUNT_WINDOW));
        assert!(accounts.check(bob, t0).is_ok());
        // Failures during the lock do not extend it.
        let later = t0 + Duration::from_secs(599);
        assert!(accounts.begin(alice, later).is_err());
        assert!(accounts.check(alice, t0 + ACCOUNT_WINDOW).is_ok());
    }

    #[test]
    fn known_addresses_are_per_account_and_bounded() {
        let mut known = KnownAddresses {
            capacity: 2,
            ..KnownAddresses::default()
        };
        let (alice, bob) = ([1u8; 16], [2u8; 16]);
        known.insert(alice, ip(1));
        assert!(known.contains(alice, ip(1)));
        assert!(!known.contains(bob, ip(1)));
        assert!(!known.contains(alice, ip(2)));
        known.insert(alice, ip(1));
        known.insert(alice, ip(2));
        known.insert(alice, ip(3));
        assert!(!known.contains(alice, ip(1)), "the oldest is forgotten");
        assert!(known.contains(alice, ip(3)));
        assert_eq!(known.pairs.len(), 2);
    }

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        for i in 0..5u16 {
            let addr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, i, i, i, i));
            assert!(limiter.begin(addr, t0).is_ok());
        }
        let same_64: IpAddr = "2001:db8:1:2::ffff".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(limiter.check(same_64, t0).is_err());
        assert!(limiter.check(other_64, t0).is_ok());

        fail(&mut limiter, ip(9), t0, 5);
        let mapped: IpAddr = "::ffff:192.0.2.9".parse().unwrap();
        assert!(limiter.check(mapped, t0).is_err());
    }
}
