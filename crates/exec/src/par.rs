//! Parallel loops of the kernels. Inside [`with_team`] (the honest path's inference) they run on
//! a team of threads that spin between loops; elsewhere on rayon's pool.
//!
//! Why a team: an inference is ~50 short loops in a row. Rayon's idle workers go to sleep
//! between them, and waking a sleeping thread (a futex, and on a VM an interrupt to an idle
//! virtual CPU) costs tens of microseconds per loop. The team's helpers spin instead. They are
//! the process's lasting helpers (started once, so an inference neither starts a thread nor
//! finds a new thread's buffers empty), which spin a little after a loop and then sleep.
//! A loop never waits for a helper that has not joined it: when the leader is done with the
//! loop's items it closes the loop to every helper that did not claim it yet, so a helper
//! still asleep after an idle spell (waking one on a VM can take milliseconds) costs only its
//! share of parallelism until it wakes, never a wait.
//!
//! Each thread also starts on the same share of every loop (thread `t` of `T` takes items
//! `t·n/T ..`), so the rows a thread wrote in one op are mostly the rows it reads in the next,
//! from its own caches; a thread that runs out steals from the end of another's share.
//!
//! Every item writes its own outputs and the reductions are commutative, so results do not
//! depend on which thread runs which item, or on how many joined.

use std::cell::Cell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use rayon::prelude::*;

/// How long a thread of a team spins before it also yields its CPU on every check, and how
/// long a helper waits for the next loop before it sleeps.
const SPIN: Duration = Duration::from_micros(200);

thread_local! {
    /// the team this thread leads, while it runs [`with_team`]'s closure
    static TEAM: Cell<*const Team> = const { Cell::new(std::ptr::null()) };
    /// set while this thread runs an item of a team's loop: loops inside it run serially
    static IN_ITEM: Cell<bool> = const { Cell::new(false) };
}

/// A loop handed to the team: called once on every thread that joins it, with the thread's
/// index.
type Job<'a> = &'a (dyn Fn(usize) + Sync);

/// A helper's claim on the loops: `2e` once it joined loop `e`, `2e + 1` once the leader
/// closed loop `e` to it. (Aligned so that claims do not share a cache line.)
#[repr(align(128))]
struct Claim(AtomicUsize);

struct Team {
    /// this one and its helpers
    threads: usize,
    /// bumped once per loop (after `job` is stored); helpers wait for it to change
    epoch: AtomicUsize,
    /// the current loop (a pointer to the leader's `Job`, valid until every helper that
    /// joined the loop is done)
    job: AtomicPtr<Job<'static>>,
    /// per helper (index 1..)
    claims: Vec<Claim>,
    /// helpers that joined the current loop and are done with it
    done: AtomicUsize,
    panicked: AtomicBool,
    /// helpers asleep on `wake`
    sleepers: AtomicUsize,
    idle: Mutex<()>,
    wake: Condvar,
    quit: AtomicBool,
}

/// Waits (spinning, then also yielding) until `ready()`.
fn wait(mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    let mut n = 0u32;
    while !ready() {
        n = n.wrapping_add(1);
        if n.is_multiple_of(64) && start.elapsed() > SPIN {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

impl Team {
    fn new(threads: usize) -> Team {
        Team {
            threads,
            epoch: AtomicUsize::new(0),
            job: AtomicPtr::new(std::ptr::null_mut()),
            claims: (0..threads).map(|_| Claim(AtomicUsize::new(0))).collect(),
            done: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            idle: Mutex::new(()),
            wake: Condvar::new(),
            quit: AtomicBool::new(false),
        }
    }

    fn threads(&self) -> usize {
        self.threads
    }

    /// The epoch after `seen`, once posted (spinning for [`SPIN`], then asleep); None once
    /// the team quits.
    fn next_epoch(&self, seen: usize) -> Option<usize> {
        let start = Instant::now();
        loop {
            let e = self.epoch.load(Ordering::Acquire);
            if e != seen {
                return Some(e);
            }
            if self.quit.load(Ordering::Acquire) {
                return None;
            }
            if start.elapsed() <= SPIN {
                std::hint::spin_loop();
                continue;
            }
            // counted as asleep before the epoch is read again under the lock, and the leader
            // reads `sleepers` after bumping the epoch (both SeqCst): either it sees this
            // helper asleep and notifies under the lock, or this helper sees the new epoch
            self.sleepers.fetch_add(1, Ordering::SeqCst);
            let mut g = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            while self.epoch.load(Ordering::SeqCst) == seen && !self.quit.load(Ordering::SeqCst) {
                g = self.wake.wait(g).unwrap_or_else(|e| e.into_inner());
            }
            drop(g);
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn helper(&self, index: usize) {
        let mut seen = 0;
        while let Some(e) = self.next_epoch(seen) {
            seen = e;
            // join loop e unless the leader closed it already (then wait for the next one)
            let claim = &self.claims[index].0;
            let c = claim.load(Ordering::Acquire);
            if c >= 2 * e
                || claim
                    .compare_exchange(c, 2 * e, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
            {
                continue;
            }
            // SAFETY: the leader stored the job before bumping the epoch (release, read by the
            // acquire above), saw this claim when it closed the loop, and keeps the job alive
            // until `done` counts this helper
            let job = unsafe { *self.job.load(Ordering::Acquire) };
            if catch_unwind(AssertUnwindSafe(|| job(index))).is_err() {
                self.panicked.store(true, Ordering::Release);
            }
            self.done.fetch_add(1, Ordering::Release);
        }
    }

    /// Runs `job` on this thread (the leader, thread 0) and on every helper that joins
    /// before the leader is done with it; returns when all of those are done.
    fn run(&self, job: Job<'_>) {
        self.done.store(0, Ordering::Relaxed);
        // SAFETY (lifetime): helpers use the job only between their claim and their `done`
        // increment, and this function waits for every helper that claimed the loop before
        // `job` goes out of scope
        let job_static: Job<'static> = unsafe { std::mem::transmute::<Job<'_>, Job<'static>>(job) };
        self.job.store(
            &job_static as *const Job<'static> as *mut Job<'static>,
            Ordering::Release,
        );
        let e = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _g = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            self.wake.notify_all();
        }
        let mine = catch_unwind(AssertUnwindSafe(|| job(0)));
        // every item is taken: close the loop to the helpers that have not joined it
        let mut joined = 0;
        for claim in &self.claims[1..] {
            let mut c = claim.0.load(Ordering::Acquire);
            while c != 2 * e {
                match claim
                    .0
                    .compare_exchange(c, 2 * e + 1, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => break,
                    Err(now) => c = now,
                }
            }
            joined += usize::from(c == 2 * e);
        }
        wait(|| self.done.load(Ordering::Acquire) == joined);
        if let Err(p) = mine {
            resume_unwind(p);
        }
        if self.panicked.swap(false, Ordering::AcqRel) {
            panic!("a loop item panicked on a helper thread of the inference team");
        }
    }

    /// Tells the helpers to stop (they may be asleep).
    fn stop(&self) {
        let _g = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        self.quit.store(true, Ordering::SeqCst);
        self.wake.notify_all();
    }
}

/// A lasting team of the process: started on first use, used by one leader at a time.
struct Lasting {
    team: Team,
    busy: AtomicBool,
}

/// Sizes up to which teams are lasting ones (one per size; larger teams start per call).
const MAX_LASTING: usize = 16;

static LASTING: [std::sync::OnceLock<Option<&'static Lasting>>; MAX_LASTING + 1] =
    [const { std::sync::OnceLock::new() }; MAX_LASTING + 1];

impl Lasting {
    /// The lasting team of `threads` threads, started on first use; None if it has too many
    /// threads or a helper could not start.
    fn get(threads: usize) -> Option<&'static Lasting> {
        *LASTING.get(threads)?.get_or_init(|| {
            let l: &'static Lasting = Box::leak(Box::new(Lasting {
                team: Team::new(threads),
                busy: AtomicBool::new(false),
            }));
            // a helper that cannot start never joins a loop: the team still works, but the
            // caller then starts helpers per call, which may succeed later
            let started = (1..threads)
                .take_while(|&index| {
                    std::thread::Builder::new()
                        .name(format!("zkopml-team-{index}"))
                        .spawn(move || l.team.helper(index))
                        .is_ok()
                })
                .count();
            (started + 1 == threads).then_some(l)
        })
    }
}

/// Runs `f` with a team of `threads` threads (this one and `threads - 1` helpers) for the
/// loops of this module (with one thread, the loops run on this one, serially). The team is
/// the process's lasting one when it has that size and no other thread leads it; otherwise
/// one started for this call.
pub fn with_team<R>(threads: usize, f: impl FnOnce() -> R) -> R {
    if !TEAM.get().is_null() {
        return f();
    }
    let threads = threads.max(1);
    if threads > 1 {
        if let Some(lasting) = Lasting::get(threads) {
            if !lasting.busy.swap(true, Ordering::Acquire) {
                // released even if `f` panics; every loop of `f` has returned by then
                struct Release(&'static Lasting);
                impl Drop for Release {
                    fn drop(&mut self) {
                        TEAM.set(std::ptr::null());
                        self.0.busy.store(false, Ordering::Release);
                    }
                }
                let _release = Release(lasting);
                TEAM.set(&lasting.team);
                return f();
            }
        }
    }
    let team = Team::new(threads);
    std::thread::scope(|scope| {
        let team_ref = &team;
        // a helper the system cannot start never joins a loop, which then runs without it
        for index in 1..threads {
            if std::thread::Builder::new()
                .name(format!("zkopml-team-{index}"))
                .spawn_scoped(scope, move || team_ref.helper(index))
                .is_err()
            {
                break;
            }
        }
        // the helpers are told to quit even if `f` panics
        struct Quit<'a>(&'a Team);
        impl Drop for Quit<'_> {
            fn drop(&mut self) {
                TEAM.set(std::ptr::null());
                self.0.stop();
            }
        }
        let _quit = Quit(&team);
        TEAM.set(&team);
        f()
    })
}

/// Threads the loops of this thread run on (one inside an item of a team's loop).
pub fn threads() -> usize {
    if IN_ITEM.get() {
        return 1;
    }
    let team = TEAM.get();
    if team.is_null() {
        rayon::current_num_threads().max(1)
    } else {
        // SAFETY: set by `with_team` on this thread for the team's lifetime
        unsafe { (*team).threads() }
    }
}

/// One thread's share of a loop's items, as `front | back << 32`: its owner takes from the
/// front, others steal from the back. (Aligned so that shares do not share a cache line.)
#[repr(align(128))]
struct Share(AtomicU64);

impl Share {
    fn new(front: usize, back: usize) -> Share {
        Share(AtomicU64::new(front as u64 | (back as u64) << 32))
    }

    /// The next item from the front (the owner) or the back (a thief), if any is left.
    fn take(&self, front: bool) -> Option<usize> {
        let mut cur = self.0.load(Ordering::Relaxed);
        loop {
            let (f, b) = (cur & 0xffff_ffff, cur >> 32);
            if f >= b {
                return None;
            }
            let (next, item) = if front {
                (cur + 1, f)
            } else {
                (cur - (1 << 32), b - 1)
            };
            match self
                .0
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Some(item as usize),
                Err(now) => cur = now,
            }
        }
    }
}

/// `reduce` over `map(i)` for `i` in `0..n`, items in parallel. `reduce` must be associative
/// and commutative (the order of items is not fixed).
pub fn map_reduce<T: Send>(
    n: usize,
    identity: impl Fn() -> T + Sync,
    map: impl Fn(usize) -> T + Sync,
    reduce: impl Fn(T, T) -> T + Sync,
) -> T {
    if n <= 1 || IN_ITEM.get() {
        return (0..n).map(&map).fold(identity(), &reduce);
    }
    let team = TEAM.get();
    if team.is_null() {
        return (0..n).into_par_iter().map(&map).reduce(&identity, &reduce);
    }
    // SAFETY: set by `with_team` on this thread for the team's lifetime
    let team = unsafe { &*team };
    let t = team.threads();
    if t == 1 {
        return (0..n).map(&map).fold(identity(), &reduce);
    }
    assert!(n < u32::MAX as usize, "a loop of {n} items");
    let shares: Vec<Share> = (0..t)
        .map(|w| Share::new(w * n / t, (w + 1) * n / t))
        .collect();
    let results = Mutex::new(None::<T>);
    let job = |w: usize| {
        // loops inside an item run serially (and the flag is cleared even if one panics)
        struct Item;
        impl Drop for Item {
            fn drop(&mut self) {
                IN_ITEM.set(false);
            }
        }
        IN_ITEM.set(true);
        let item = Item;
        let mut acc = None::<T>;
        let mut add = |v: T| {
            acc = Some(match acc.take() {
                Some(a) => reduce(a, v),
                None => v,
            })
        };
        while let Some(i) = shares[w].take(true) {
            add(map(i));
        }
        for k in 1..t {
            while let Some(i) = shares[(w + k) % t].take(false) {
                add(map(i));
            }
        }
        drop(item);
        if let Some(v) = acc {
            let mut r = results.lock().unwrap_or_else(|e| e.into_inner());
            *r = Some(match r.take() {
                Some(a) => reduce(a, v),
                None => v,
            });
        }
    };
    team.run(&job);
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .unwrap_or_else(identity)
}

/// `map(i)` for `i` in `0..n`, items in parallel, in item order.
pub fn map_collect<T: Send>(n: usize, map: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let slots: Vec<Mutex<Option<T>>> = (0..n).map(|_| Mutex::new(None)).collect();
    map_reduce(
        n,
        || (),
        |i| *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(map(i)),
        |(), ()| (),
    );
    slots
        .into_iter()
        .map(|s| {
            s.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every item ran")
        })
        .collect()
}

/// `f(i, chunk)` for the `i`-th chunk of `len` elements of `data` (the last may be shorter),
/// chunks in parallel; results in chunk order.
pub fn chunks_map<E: Send, T: Send>(
    data: &mut [E],
    len: usize,
    f: impl Fn(usize, &mut [E]) -> T + Sync,
) -> Vec<T> {
    assert!(len > 0);
    let n = data.len().div_ceil(len);
    let total = data.len();
    let base = SyncPtr(data.as_mut_ptr());
    map_collect(n, |i| {
        let (from, to) = (i * len, ((i + 1) * len).min(total));
        // SAFETY: chunk i is the range from..to of `data`, disjoint from every other chunk,
        // and `data` is borrowed mutably for the whole loop
        let chunk = unsafe { std::slice::from_raw_parts_mut(base.at(from), to - from) };
        f(i, chunk)
    })
}

/// A pointer that items of one loop write through at disjoint positions.
pub struct SyncPtr<E>(pub *mut E);
impl<E> Clone for SyncPtr<E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E> Copy for SyncPtr<E> {}
// SAFETY: items write disjoint elements, and the buffer outlives the loop
unsafe impl<E> Send for SyncPtr<E> {}
unsafe impl<E> Sync for SyncPtr<E> {}

impl<E> SyncPtr<E> {
    /// (a method, so closures capture the whole `SyncPtr`, not its raw field)
    pub fn at(self, i: usize) -> *mut E {
        self.0.wrapping_add(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_loops_cover_every_item_once() {
        for threads in [1, 2, 3, 5] {
            with_team(threads, || {
                assert_eq!(super::threads(), threads.max(1));
                for n in [0, 1, 2, 7, 100, 1000] {
                    let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
                    let sum = map_reduce(
                        n,
                        || 0usize,
                        |i| {
                            hits[i].fetch_add(1, Ordering::Relaxed);
                            i
                        },
                        |a, b| a + b,
                    );
                    assert_eq!(sum, n * n.saturating_sub(1) / 2);
                    assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
                    assert_eq!(
                        map_collect(n, |i| i * 2),
                        (0..n).map(|i| i * 2).collect::<Vec<_>>()
                    );
                    let mut data: Vec<usize> = vec![0; n];
                    let firsts = chunks_map(&mut data, 3, |c, chunk| {
                        chunk.iter_mut().for_each(|v| *v = c);
                        c * 3
                    });
                    assert_eq!(
                        firsts,
                        (0..n.div_ceil(3)).map(|c| c * 3).collect::<Vec<_>>()
                    );
                    assert!(data.iter().enumerate().all(|(i, &c)| c == i / 3));
                }
            });
        }
    }

    #[test]
    fn nested_loops_run_serially_inside_an_item() {
        let total = with_team(2, || {
            map_reduce(
                8,
                || 0,
                |i| map_reduce(4, || 0, |j| i * 4 + j, |a, b| a + b),
                |a, b| a + b,
            )
        });
        assert_eq!(total, (0..32).sum::<usize>());
    }

    #[test]
    fn a_panicking_item_reaches_the_leader() {
        let r = std::panic::catch_unwind(|| {
            with_team(2, || {
                map_reduce(64, || (), |i| assert!(i != 40, "item 40"), |(), ()| ())
            })
        });
        assert!(r.is_err());
        // the team is gone: loops run on rayon again
        assert_eq!(map_reduce(4, || 0, |i| i, |a, b| a + b), 6);
        // and the next teams work
        for _ in 0..3 {
            assert_eq!(
                with_team(2, || map_reduce(64, || 0, |i| i, |a, b| a + b)),
                (0..64).sum::<usize>()
            );
        }
    }

    #[test]
    fn a_loop_never_waits_for_a_helper_that_does_not_join() {
        // a team whose helpers never run (none started): the leader closes each loop to them
        // and does every item itself
        let team = Team::new(3);
        TEAM.set(&team);
        for n in [2, 5, 64] {
            let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
            assert_eq!(
                map_reduce(
                    n,
                    || 0usize,
                    |i| {
                        hits[i].fetch_add(1, Ordering::Relaxed);
                        i
                    },
                    |a, b| a + b
                ),
                n * (n - 1) / 2
            );
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
        }
        TEAM.set(std::ptr::null());
        let e = team.epoch.load(Ordering::Relaxed);
        assert_eq!(e, 3);
        assert!(
            team.claims[1..]
                .iter()
                .all(|c| c.0.load(Ordering::Relaxed) == 2 * e + 1),
            "closed, not joined"
        );
        // a helper that wakes up late finds the loops closed and waits for the next one
        std::thread::scope(|scope| {
            scope.spawn(|| team.helper(1));
            TEAM.set(&team);
            assert_eq!(map_reduce(100, || 0usize, |i| i, |a, b| a + b), 4950);
            TEAM.set(std::ptr::null());
            team.stop();
        });
    }

    #[test]
    fn lasting_helpers_asleep_or_awake_give_the_same_results() {
        // pauses longer than the helpers' spin put them to sleep between loops and between
        // sessions; each loop then runs with or without them
        for round in 0..30usize {
            let pause = Duration::from_micros([0, 50, 400, 2000][round % 4]);
            let got = with_team(2, || {
                (0..4)
                    .map(|k| {
                        std::thread::sleep(pause);
                        let n = 50 + 13 * k + round;
                        let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
                        let sum = map_reduce(
                            n,
                            || 0usize,
                            |i| {
                                hits[i].fetch_add(1, Ordering::Relaxed);
                                i * i
                            },
                            |a, b| a + b,
                        );
                        assert!(
                            hits.iter().all(|h| h.load(Ordering::Relaxed) == 1),
                            "round {round} loop {k}"
                        );
                        sum
                    })
                    .collect::<Vec<_>>()
            });
            let want: Vec<usize> = (0..4)
                .map(|k| (0..50 + 13 * k + round).map(|i| i * i).sum())
                .collect();
            assert_eq!(got, want, "round {round}");
            std::thread::sleep(pause);
        }
    }

    #[test]
    fn teams_from_several_threads_at_once() {
        std::thread::scope(|scope| {
            for t in 0..4usize {
                scope.spawn(move || {
                    for round in 0..50usize {
                        let n = 100 + t * 7 + round;
                        let got = with_team(2, || {
                            assert_eq!(super::threads(), 2);
                            (0..3)
                                .map(|_| map_reduce(n, || 0usize, |i| i * (t + 1), |a, b| a + b))
                                .collect::<Vec<_>>()
                        });
                        assert_eq!(
                            got,
                            vec![(t + 1) * n * (n - 1) / 2; 3],
                            "thread {t} round {round}"
                        );
                    }
                });
            }
        });
    }
}
