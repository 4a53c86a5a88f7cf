//! Tasks that outlive their environment: a destruction with `keepTasks` releases them instead
//! of killing them, and they run on, unlocked, until a cleanup kills them — `CleanupTasks`, or
//! the pre-deployment cleanup every creation starts with (`core/task/manager.go` Cleanup,
//! KillTasks; `core/environment/manager.go` CreateEnvironment).

use std::collections::BTreeMap;

use crate::{
    event::{CorePayload, TaskEvent},
    id::TaskId,
    role_state::TaskStatus,
    view::TaskView,
};

use super::{Core, lock};

/// A task that outlived its environment (`keepTasks`): what the task manager shows of it, and
/// the event it reports when it is killed.
#[derive(Debug, Clone)]
pub(crate) struct ReleasedTask {
    pub(crate) view: TaskView,
    pub(crate) killed: TaskEvent,
}

impl Core {
    /// Every task the core knows, as AliECS's task manager lists them (`GetTasks`): the live
    /// environments' in id order, then those released by a destruction that kept them.
    pub fn tasks(&self) -> Vec<TaskView> {
        let mut tasks: Vec<TaskView> = self
            .environments()
            .iter()
            .flat_map(|env| env.data().tasks.task_views())
            .collect();
        tasks.extend(lock(&self.0.released).iter().map(|task| task.view.clone()));
        tasks
    }

    /// Kills the tasks outside any environment (AliECS's `CleanupTasks`): those of `ids`, or
    /// every one when `ids` is empty; a task of a live environment is never killed. Each killed
    /// task reports INACTIVE; returns them as they were killed.
    pub fn cleanup_tasks(&self, ids: &[TaskId]) -> Vec<TaskView> {
        let wanted: std::collections::BTreeSet<&TaskId> = ids.iter().collect();
        let killed: Vec<ReleasedTask> = {
            let mut released = lock(&self.0.released);
            let (killed, kept) = std::mem::take(&mut *released)
                .into_iter()
                .partition(|task| wanted.is_empty() || wanted.contains(&task.view.id));
            *released = kept;
            killed
        };
        killed
            .into_iter()
            .map(|task| {
                self.emit(CorePayload::Task(task.killed.clone()));
                TaskView {
                    status: TaskStatus::Inactive,
                    ..task.view
                }
            })
            .collect()
    }

    /// Keeps an environment's tasks running outside it (`keepTasks`): unlocked, with no
    /// environment or role, until a cleanup kills them with the events in `killed`.
    pub(super) fn release_tasks(&self, views: Vec<TaskView>, killed: Vec<TaskEvent>) {
        let mut events: BTreeMap<TaskId, TaskEvent> = killed
            .into_iter()
            .map(|event| (event.task.id.clone(), event))
            .collect();
        let mut released = lock(&self.0.released);
        for view in views {
            // A hook task that ran has ended already: nothing of it runs on.
            if let Some(killed) = events.remove(view.id.as_str()) {
                released.push(ReleasedTask {
                    view: TaskView {
                        environment_id: None,
                        role_path: String::new(),
                        critical: false,
                        ..view
                    },
                    killed,
                });
            }
        }
    }
}
