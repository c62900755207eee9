//! The interleaving harness's machinery: a seeded scheduler that runs one
//! pending backend operation at a time (and may crash its actor), the
//! `Step` backend through which every actor's operations pass, and the
//! stores the actors run on.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use cairn_backends::{Backend, ObjectMeta, PutMode};
use cairn_erasure::{Child, ErasureBackend, ErasureConfig};
use futures::channel::oneshot;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};

#[derive(Default)]
pub(crate) struct State {
    pub(crate) active: BTreeSet<usize>,
    pub(crate) pending: BTreeMap<usize, (String, oneshot::Sender<bool>)>,
}

#[derive(Default)]
pub(crate) struct Scheduler {
    state: Mutex<State>,
    pub(crate) cv: Condvar,
}

impl Scheduler {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn finished(&self, actor: usize) {
        self.lock().active.remove(&actor);
        self.cv.notify_all();
    }
}

/// One actor's view of the store: every operation is one scheduler step.
pub(crate) struct Step {
    inner: Arc<dyn Backend>,
    actor: usize,
    sched: Arc<Scheduler>,
    // Shared by the actor's stores (the children of its erasure layout).
    crashed: Arc<AtomicBool>,
    // One operation of this actor at a time, so the scheduler sees at most
    // one pending operation per actor.
    serial: Arc<futures::lock::Mutex<()>>,
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Step({})", self.actor)
    }
}

pub(crate) fn crash_error(key: &str) -> cairn_backends::Error {
    cairn_backends::Error::Backend {
        key: key.to_owned(),
        message: "injected: crashed by the scheduler".into(),
        transient: false,
    }
}

impl Step {
    pub(crate) async fn step(&self, what: String, key: &str) -> cairn_backends::Result<()> {
        if self.crashed.load(Ordering::SeqCst) {
            return Err(crash_error(key));
        }
        let (tx, rx) = oneshot::channel();
        {
            let mut st = self.sched.lock();
            st.pending.insert(self.actor, (what, tx));
        }
        self.sched.cv.notify_all();
        match rx.await {
            Ok(true) => Ok(()),
            _ => {
                self.crashed.store(true, Ordering::SeqCst);
                Err(crash_error(key))
            }
        }
    }
}

#[async_trait]
impl Backend for Step {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> cairn_backends::Result<()> {
        let _one = self.serial.lock().await;
        self.step(format!("put {key}"), key).await?;
        self.inner.put(key, data, mode).await
    }
    async fn get(&self, key: &str) -> cairn_backends::Result<Bytes> {
        let _one = self.serial.lock().await;
        self.step(format!("get {key}"), key).await?;
        self.inner.get(key).await
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> cairn_backends::Result<Bytes> {
        let _one = self.serial.lock().await;
        self.step(format!("get_range {key}"), key).await?;
        self.inner.get_range(key, range).await
    }
    async fn stat(&self, key: &str) -> cairn_backends::Result<ObjectMeta> {
        let _one = self.serial.lock().await;
        self.step(format!("stat {key}"), key).await?;
        self.inner.stat(key).await
    }
    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, cairn_backends::Result<ObjectMeta>> {
        stream::once(async move {
            let _one = self.serial.lock().await;
            self.step(format!("list {prefix}"), prefix).await?;
            self.inner.list(prefix).try_collect::<Vec<_>>().await
        })
        .flat_map(|r| match r {
            Ok(v) => stream::iter(v.into_iter().map(Ok)).boxed(),
            Err(e) => stream::once(async { Err(e) }).boxed(),
        })
        .boxed()
    }
    async fn delete(&self, key: &str) -> cairn_backends::Result<()> {
        let _one = self.serial.lock().await;
        self.step(format!("delete {key}"), key).await?;
        self.inner.delete(key).await
    }
}

/// What the actors run on.
#[derive(Clone)]
pub(crate) enum Under {
    /// One store; each of its operations is one step.
    Whole(Arc<dyn Backend>),
    /// The children of a 4+2 layout: each actor has its own layout over
    /// them, and every child operation is one step.
    Shards(Vec<Arc<dyn Backend>>),
}

pub(crate) fn layout(children: Vec<Arc<dyn Backend>>) -> Arc<ErasureBackend> {
    let children = children
        .into_iter()
        .enumerate()
        .map(|(i, c)| Child::new(format!("m{i}"), c))
        .collect();
    Arc::new(ErasureBackend::new(children, ErasureConfig::new(4, 2)).unwrap())
}

impl Under {
    /// The store without the scheduler (set-up and verdict), and the
    /// layout that finds strays.
    pub(crate) fn direct(&self) -> (Arc<dyn Backend>, Option<Arc<ErasureBackend>>) {
        match self {
            Under::Whole(b) => (b.clone(), None),
            Under::Shards(children) => {
                let l = layout(children.clone());
                (l.clone(), Some(l))
            }
        }
    }

    pub(crate) fn for_actor(&self, actor: usize, sched: &Arc<Scheduler>) -> ActorStore {
        let crashed = Arc::new(AtomicBool::new(false));
        let serial = Arc::new(futures::lock::Mutex::new(()));
        let step = |inner: Arc<dyn Backend>| -> Arc<dyn Backend> {
            Arc::new(Step {
                inner,
                actor,
                sched: sched.clone(),
                crashed: crashed.clone(),
                serial: serial.clone(),
            })
        };
        match self {
            Under::Whole(b) => (step(b.clone()), None, crashed.clone()),
            Under::Shards(children) => {
                let l = layout(children.iter().cloned().map(step).collect());
                (l.clone(), Some(l), crashed.clone())
            }
        }
    }
}

/// An actor's store, its layout (for strays), and whether it crashed.
pub(crate) type ActorStore = (
    Arc<dyn Backend>,
    Option<Arc<ErasureBackend>>,
    Arc<AtomicBool>,
);
