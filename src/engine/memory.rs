//! The memory queries share and where they spill: one pool for the whole server
//! ([`SharedPool`]: an operator that can spill takes free memory while there is plenty,
//! and is always granted its fair share, so a query that started first can neither
//! starve the next nor be held to a sliver of an idle pool); a sort merges its spilled
//! runs a bounded number at a time; spill files go to the configured folder.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::common::resources_datafusion_err;
use datafusion::error::Result as DfResult;
use datafusion::execution::memory_pool::{
    human_readable_size, MemoryLimit, MemoryPool, MemoryReservation, TrackConsumersPool,
};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};

use crate::config::ServerConfig;
use crate::error::{Error, Result};

/// How many of the largest consumers a 53200 error names.
const CONSUMERS_NAMED: usize = 5;

/// The most spill files one merge pass reads. Unbounded, a sort merging its spilled
/// runs reserves whatever memory is free (memory it cannot give back), and a query
/// running beside it fails; bounded, more runs take another pass.
const SPILL_MERGE_FAN_IN: usize = 16;

/// The runtime for `server.memory_limit_mb` and `server.spill_dir`.
///
/// # Errors
/// The spill folder cannot be created.
pub fn runtime(server: &ServerConfig) -> Result<Arc<RuntimeEnv>> {
    let mut runtime = RuntimeEnvBuilder::new().with_max_spill_merge_fan_in(SPILL_MERGE_FAN_IN);
    if server.memory_limit_mb > 0 {
        let bytes = usize::try_from(server.memory_limit_mb.saturating_mul(1024 * 1024))
            .unwrap_or(usize::MAX);
        let named = NonZeroUsize::new(CONSUMERS_NAMED).unwrap_or(NonZeroUsize::MIN);
        runtime = runtime.with_memory_pool(Arc::new(TrackConsumersPool::new(
            SharedPool::new(bytes),
            named,
        )));
    }
    if !server.spill_dir.is_empty() {
        let dir = PathBuf::from(&server.spill_dir);
        std::fs::create_dir_all(&dir).map_err(|e| {
            Error::Config(format!(
                "server.spill_dir = {:?} cannot be created: {e}",
                server.spill_dir
            ))
        })?;
        runtime = runtime.with_temp_file_path(dir);
    }
    Ok(runtime.build_arc()?)
}

/// The part of the pool spilling operators leave free while they can: 1/8.
const HEADROOM_DIVISOR: usize = 8;

/// Memory that cannot be spilled (a sort merging its runs, a join's build side) is
/// granted up to half the pool even while spilling operators hold the rest: they are
/// refused at their next request and spill. Beyond that half only free memory is
/// granted, and a query that needs more fails with 53200: spilling cannot help it.
const UNSPILLABLE_DIVISOR: usize = 2;

/// One memory pool for every query, with an eighth of it kept as headroom for memory
/// that cannot be spilled. An operator that can spill is granted more while the
/// headroom stays free after it (one query alone uses nearly all of the pool), or while
/// it holds no more than its fair share: the pool less the headroom and what cannot be
/// spilled, divided by the spilling operators holding memory. A share granted to a
/// newcomer may overcommit the pool until those above their share next ask for more:
/// they are refused and spill. Memory that cannot be spilled is granted while it fits,
/// and up to half the pool even while the pool is overcommitted (two sorts merging
/// their spilled runs beside two more that hold the rest of the pool both finish).
///
/// DataFusion's `FairSpillPool` divides by every registered spilling operator, idle
/// ones included: a plan with a dozen of them held its one busy sort to a twelfth of an
/// empty pool. Its `GreedyMemoryPool` let the first query hold everything, and the next
/// one failed its first reservation.
///
/// Batches in flight between partitions (`RepartitionExec`) are always granted and
/// counted, so that other operators spill sooner: refused, DataFusion 55 writes them to
/// a spill pool whose reader can wait forever for a batch in another file, and the
/// query hangs with every thread idle (apache/datafusion#24883).
#[derive(Debug)]
pub struct SharedPool {
    size: usize,
    state: std::sync::Mutex<PoolState>,
}

#[derive(Debug, Default)]
struct PoolState {
    spillable: usize,
    unspillable: usize,
    /// Memory of each spilling consumer holding some, by consumer id (a consumer's
    /// reservations may split and merge without telling the pool; their sum does not
    /// change).
    holders: std::collections::HashMap<usize, usize>,
}

impl PoolState {
    fn add(&mut self, reservation: &MemoryReservation, additional: usize) {
        let consumer = reservation.consumer();
        if consumer.can_spill() {
            self.spillable += additional;
            if additional > 0 {
                *self.holders.entry(consumer.id()).or_default() += additional;
            }
        } else {
            self.unspillable += additional;
        }
    }

    fn held_by(&self, reservation: &MemoryReservation) -> usize {
        self.holders
            .get(&reservation.consumer().id())
            .copied()
            .unwrap_or_default()
    }
}

impl SharedPool {
    pub fn new(size: usize) -> Self {
        Self {
            size,
            state: std::sync::Mutex::new(PoolState::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl std::fmt::Display for SharedPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "shared(pool_size: {})", human_readable_size(self.size))
    }
}

/// A repartition's buffered batches (its consumers are `RepartitionExec[n]`).
fn in_flight_between_partitions(reservation: &MemoryReservation) -> bool {
    reservation
        .consumer()
        .name()
        .starts_with("RepartitionExec[")
}

impl MemoryPool for SharedPool {
    fn name(&self) -> &str {
        "shared"
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.state().add(reservation, additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        let mut state = self.state();
        let consumer = reservation.consumer();
        if consumer.can_spill() {
            state.spillable = state.spillable.saturating_sub(shrink);
            if let Some(held) = state.holders.get_mut(&consumer.id()) {
                *held = held.saturating_sub(shrink);
                if *held == 0 {
                    state.holders.remove(&consumer.id());
                }
            }
        } else {
            state.unspillable = state.unspillable.saturating_sub(shrink);
        }
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> DfResult<()> {
        let mut state = self.state();
        if in_flight_between_partitions(reservation) {
            state.add(reservation, additional);
            return Ok(());
        }
        let free = self
            .size
            .saturating_sub(state.spillable + state.unspillable);
        let headroom = self.size / HEADROOM_DIVISOR;
        let granted = if reservation.consumer().can_spill() {
            let held = state.held_by(reservation);
            let holders = state.holders.len() + usize::from(held == 0);
            let share = self.size.saturating_sub(state.unspillable + headroom) / holders.max(1);
            additional.saturating_add(headroom) <= free || held.saturating_add(additional) <= share
        } else {
            additional <= free
                || state.unspillable.saturating_add(additional) <= self.size / UNSPILLABLE_DIVISOR
        };
        if !granted {
            return Err(resources_datafusion_err!(
                "Failed to allocate additional {} for {} with {} already allocated for this \
                 reservation - {} remain available for the total memory pool: {self}",
                human_readable_size(additional),
                reservation.consumer().name(),
                human_readable_size(reservation.size()),
                human_readable_size(free)
            ));
        }
        state.add(reservation, additional);
        Ok(())
    }

    fn reserved(&self) -> usize {
        let state = self.state();
        state.spillable + state.unspillable
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::memory_pool::MemoryConsumer;

    const MB: usize = 1 << 20;

    fn pool() -> Arc<dyn MemoryPool> {
        Arc::new(SharedPool::new(1000 * MB))
    }

    fn spiller(pool: &Arc<dyn MemoryPool>, name: &str) -> MemoryReservation {
        MemoryConsumer::new(name)
            .with_can_spill(true)
            .register(pool)
    }

    #[test]
    fn a_query_alone_takes_nearly_all_of_the_pool_whatever_is_registered() {
        let pool = pool();
        let _idle: Vec<_> = (0..12)
            .map(|i| spiller(&pool, &format!("idle{i}")))
            .collect();
        let sort = spiller(&pool, "sort");
        sort.try_grow(800 * MB)
            .expect("free memory, an eighth left");
        // Its share (it is the only holder): the pool less the headroom.
        sort.try_grow(75 * MB).expect("its share");
        assert!(
            sort.try_grow(MB).is_err(),
            "the headroom is not a spiller's"
        );
        let merge = MemoryConsumer::new("merge").register(&pool);
        merge.try_grow(125 * MB).expect("the headroom");
    }

    #[test]
    fn a_second_query_gets_its_share_and_the_first_then_spills() {
        let pool = pool();
        let first = spiller(&pool, "first");
        first.try_grow(875 * MB).expect("alone");
        let second = spiller(&pool, "second");
        second.try_grow(400 * MB).expect("within its share of two");
        assert!(first.try_grow(MB).is_err(), "above its share: spill");
        // Overcommitted: memory that cannot spill still gets up to half the pool.
        let merge = MemoryConsumer::new("merge").register(&pool);
        merge.try_grow(100 * MB).expect("within half the pool");
        let other_merge = MemoryConsumer::new("merge").register(&pool);
        other_merge
            .try_grow(400 * MB)
            .expect("within half the pool");
        assert!(merge.try_grow(MB).is_err(), "beyond it, only free memory");
        assert!(second.try_grow(MB).is_err(), "shares shrink: spill");
        drop(other_merge);
        first.shrink(700 * MB);
        // 325 MB free; shares (1000 - 100 - 125) / 2 = 387.5 MB.
        assert!(
            second.try_grow(250 * MB).is_err(),
            "neither the headroom free after it nor within its share"
        );
        assert!(first.try_grow(200 * MB).is_ok(), "within its share");
        drop(first);
        assert_eq!(pool.reserved(), 500 * MB);
    }

    #[test]
    fn batches_between_partitions_are_granted_and_make_others_spill() {
        let pool = pool();
        let sort = spiller(&pool, "ExternalSorter[0]");
        sort.try_grow(800 * MB).expect("alone");
        let repartition = spiller(&pool, "RepartitionExec[1]");
        repartition
            .try_grow(300 * MB)
            .expect("never refused: refused, it would spill into a pool that can hang");
        assert_eq!(pool.reserved(), 1100 * MB);
        assert!(
            sort.try_grow(MB).is_err(),
            "the pool is overcommitted: spill"
        );
        drop(repartition);
        assert_eq!(pool.reserved(), 800 * MB);
    }
}
