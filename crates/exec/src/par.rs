//! Parallel loops of the kernels. Inside [`with_team`] (the honest path's inference) they run on
//! a team of threads that spin between loops; elsewhere on rayon's pool.
//!
//! Why a team: an inference is ~100 short loops in a row. Rayon's idle workers go to sleep
//! between them, and waking a sleeping thread (a futex, and on a VM an interrupt to an idle
//! virtual CPU) costs tens of microseconds per loop. The team's helpers spin instead, for
//! the length of one inference only. Each helper also starts on the same share of every loop
//! (thread `t` of `T` takes items `t·n/T ..`), so the rows a thread wrote in one op are mostly
//! the rows it reads in the next, from its own caches; a thread that runs out steals from the
//! end of another's share.
//!
//! Every item writes its own outputs and the reductions are commutative, so results do not
//! depend on which thread runs which item.

use std::cell::Cell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rayon::prelude::*;

/// How long a thread of a team spins before it also yields its CPU on every check.
const SPIN: Duration = Duration::from_micros(200);

thread_local! {
    /// the team this thread leads, while it runs [`with_team`]'s closure
    static TEAM: Cell<*const Team> = const { Cell::new(std::ptr::null()) };
    /// set while this thread runs an item of a team's loop: loops inside it run serially
    static IN_ITEM: Cell<bool> = const { Cell::new(false) };
}

/// A loop handed to the team: called once on every thread, with the thread's index.
type Job<'a> = &'a (dyn Fn(usize) + Sync);

struct Team {
    /// this one and the helpers that started (set before the first loop)
    threads: AtomicUsize,
    /// bumped once per loop; helpers wait for it to change
    epoch: AtomicUsize,
    /// the current loop (a pointer to the leader's `Job`, valid until every helper is done)
    job: AtomicPtr<Job<'static>>,
    /// helpers done with the current loop
    done: AtomicUsize,
    quit: AtomicBool,
    panicked: AtomicBool,
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
    fn threads(&self) -> usize {
        self.threads.load(Ordering::Relaxed)
    }

    fn helper(&self, index: usize) {
        let mut seen = 0;
        loop {
            let mut epoch = seen;
            wait(|| {
                epoch = self.epoch.load(Ordering::Acquire);
                epoch != seen || self.quit.load(Ordering::Acquire)
            });
            if epoch == seen {
                return;
            }
            seen = epoch;
            // SAFETY: the leader stored the job before bumping the epoch (release, read by the
            // acquire above) and keeps it alive until `done` counts this helper
            let job = unsafe { *self.job.load(Ordering::Acquire) };
            if catch_unwind(AssertUnwindSafe(|| job(index))).is_err() {
                self.panicked.store(true, Ordering::Release);
            }
            self.done.fetch_add(1, Ordering::Release);
        }
    }

    /// Runs `job` on every thread of the team (the leader is thread 0) and returns when all
    /// are done.
    fn run(&self, job: Job<'_>) {
        let helpers = self.threads() - 1;
        self.done.store(0, Ordering::Relaxed);
        // SAFETY (lifetime): helpers use the job only between this store and their `done`
        // increment, and this function waits for all of them before `job` goes out of scope
        let job_static: Job<'static> = unsafe { std::mem::transmute::<Job<'_>, Job<'static>>(job) };
        self.job.store(&job_static as *const Job<'static> as *mut Job<'static>, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::Release);
        let mine = catch_unwind(AssertUnwindSafe(|| job(0)));
        wait(|| self.done.load(Ordering::Acquire) == helpers);
        if let Err(p) = mine {
            resume_unwind(p);
        }
        if self.panicked.swap(false, Ordering::AcqRel) {
            panic!("a loop item panicked on a helper thread of the inference team");
        }
    }
}

/// Runs `f` with a team of `threads` threads (this one and `threads - 1` helpers) for the
/// loops of this module, started for this call and stopped when it returns (with one
/// thread, the loops run on this one, serially).
pub fn with_team<R>(threads: usize, f: impl FnOnce() -> R) -> R {
    if !TEAM.get().is_null() {
        return f();
    }
    let threads = threads.max(1);
    let team = Team {
        threads: AtomicUsize::new(1),
        epoch: AtomicUsize::new(0),
        job: AtomicPtr::new(std::ptr::null_mut()),
        done: AtomicUsize::new(0),
        quit: AtomicBool::new(false),
        panicked: AtomicBool::new(false),
    };
    std::thread::scope(|scope| {
        // a helper the system cannot start leaves a smaller team, not an error
        let team_ref = &team;
        let started = (1..threads).take_while(|&index| std::thread::Builder::new().name(format!("zkopml-team-{index}")).spawn_scoped(scope, move || team_ref.helper(index)).is_ok()).count();
        team.threads.store(1 + started, Ordering::Relaxed);
        // the helpers are told to quit even if `f` panics
        struct Quit<'a>(&'a Team);
        impl Drop for Quit<'_> {
            fn drop(&mut self) {
                TEAM.set(std::ptr::null());
                self.0.quit.store(true, Ordering::Release);
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
            let (next, item) = if front { (cur + 1, f) } else { (cur - (1 << 32), b - 1) };
            match self.0.compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Some(item as usize),
                Err(now) => cur = now,
            }
        }
    }
}

/// `reduce` over `map(i)` for `i` in `0..n`, items in parallel. `reduce` must be associative
/// and commutative (the order of items is not fixed).
pub fn map_reduce<T: Send>(n: usize, identity: impl Fn() -> T + Sync, map: impl Fn(usize) -> T + Sync, reduce: impl Fn(T, T) -> T + Sync) -> T {
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
    let shares: Vec<Share> = (0..t).map(|w| Share::new(w * n / t, (w + 1) * n / t)).collect();
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
        let mut add = |v: T| acc = Some(match acc.take() { Some(a) => reduce(a, v), None => v });
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
            *r = Some(match r.take() { Some(a) => reduce(a, v), None => v });
        }
    };
    team.run(&job);
    results.into_inner().unwrap_or_else(|e| e.into_inner()).unwrap_or_else(identity)
}

/// `map(i)` for `i` in `0..n`, items in parallel, in item order.
pub fn map_collect<T: Send>(n: usize, map: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let slots: Vec<Mutex<Option<T>>> = (0..n).map(|_| Mutex::new(None)).collect();
    map_reduce(n, || (), |i| *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(map(i)), |(), ()| ());
    slots.into_iter().map(|s| s.into_inner().unwrap_or_else(|e| e.into_inner()).expect("every item ran")).collect()
}

/// `f(i, chunk)` for the `i`-th chunk of `len` elements of `data` (the last may be shorter),
/// chunks in parallel; results in chunk order.
pub fn chunks_map<E: Send, T: Send>(data: &mut [E], len: usize, f: impl Fn(usize, &mut [E]) -> T + Sync) -> Vec<T> {
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
                    let sum = map_reduce(n, || 0usize, |i| { hits[i].fetch_add(1, Ordering::Relaxed); i }, |a, b| a + b);
                    assert_eq!(sum, n * n.saturating_sub(1) / 2);
                    assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
                    assert_eq!(map_collect(n, |i| i * 2), (0..n).map(|i| i * 2).collect::<Vec<_>>());
                    let mut data: Vec<usize> = vec![0; n];
                    let firsts = chunks_map(&mut data, 3, |c, chunk| { chunk.iter_mut().for_each(|v| *v = c); c * 3 });
                    assert_eq!(firsts, (0..n.div_ceil(3)).map(|c| c * 3).collect::<Vec<_>>());
                    assert!(data.iter().enumerate().all(|(i, &c)| c == i / 3));
                }
            });
        }
    }

    #[test]
    fn nested_loops_run_serially_inside_an_item() {
        let total = with_team(2, || map_reduce(8, || 0, |i| map_reduce(4, || 0, |j| i * 4 + j, |a, b| a + b), |a, b| a + b));
        assert_eq!(total, (0..32).sum::<usize>());
    }

    #[test]
    fn a_panicking_item_reaches_the_leader() {
        let r = std::panic::catch_unwind(|| with_team(2, || map_reduce(64, || (), |i| assert!(i != 40, "item 40"), |(), ()| ())));
        assert!(r.is_err());
        // the team is gone: loops run on rayon again
        assert_eq!(map_reduce(4, || 0, |i| i, |a, b| a + b), 6);
        // and the next teams work
        for _ in 0..3 {
            assert_eq!(with_team(2, || map_reduce(64, || 0, |i| i, |a, b| a + b)), (0..64).sum::<usize>());
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
                            (0..3).map(|_| map_reduce(n, || 0usize, |i| i * (t + 1), |a, b| a + b)).collect::<Vec<_>>()
                        });
                        assert_eq!(got, vec![(t + 1) * n * (n - 1) / 2; 3], "thread {t} round {round}");
                    }
                });
            }
        });
    }
}
