//! `o2control.Control`, RPC by RPC, over the core's public API.
//!
//! Each method does what AliECS's `core/server.go` does with the same request: the same
//! checks in the same order, the same codes and texts, the same reply fields. Where AliECS's
//! behaviour would hurt a client ecsim does better, as the README's "Differences from AliECS"
//! says.
//!
//! The work of every request that changes an environment runs on a task of its own, not in the
//! handler: a client that gives up or disconnects changes nothing of the outcome — the
//! transition finishes, as AliECS's does whatever its client does — and the next request sees
//! it finished. The handler only waits for the answer, or for the server to stop.

use std::{collections::BTreeMap, pin::Pin, sync::Arc};

use ecsim_core::{
    Core, CoreError, Creation, DestroyOptions, EnvironmentId, TaskId, fsm::Transition,
    role_state::TaskStatus, view::EnvironmentView,
};
pub use ecsim_proto::o2control::control_server::Control;
use ecsim_proto::{
    common::{User, WorkflowTemplateInfo},
    events::Event,
    o2control::{self as pb, control_environment_request::Optype},
};
use tokio_stream::Stream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::{
    auto,
    catalogue::{Catalogue, REPOSITORY, REVISION},
    convert, limits, status, subscribe,
    tasks::Tasks,
    templates,
};

/// How the server presents itself (`GetFrameworkInfo`).
#[derive(Debug, Clone)]
pub struct Identity {
    /// `instanceName`.
    pub instance_name: String,
    /// The version reported, `major.minor.patch`.
    pub version: (i32, i32, i32),
    /// Where its configuration service is (`configurationEndpoint`): ecsim serves it on the
    /// control API's own address, `apricot://HOST:PORT`.
    pub configuration_endpoint: String,
}

impl Default for Identity {
    fn default() -> Self {
        let part = |text: &str| text.parse().unwrap_or(0);
        Self {
            instance_name: "ecsim".to_owned(),
            version: (
                part(env!("CARGO_PKG_VERSION_MAJOR")),
                part(env!("CARGO_PKG_VERSION_MINOR")),
                part(env!("CARGO_PKG_VERSION_PATCH")),
            ),
            configuration_endpoint: String::new(),
        }
    }
}

/// The plugins AliECS registers (`cmd/o2-aliecs-core/main.go`), which `GetIntegratedServices`
/// lists whether loaded or not.
const REGISTERED_PLUGINS: &[&str] = &[
    "bookkeeping",
    "ccdb",
    "dcs",
    "ddsched",
    "kafka",
    "lhc",
    "odc",
    "trg",
    "testplugin",
];

/// The control API over one core.
#[derive(Debug, Clone)]
pub struct ControlService {
    core: Core,
    catalogue: Arc<Catalogue>,
    identity: Arc<Identity>,
    /// The event feeds of auto environments, until their subscriber takes them.
    feeds: Arc<auto::Feeds>,
    /// Cancelled when the server stops: streams end, waiting calls answer.
    stopping: CancellationToken,
    /// The tasks requests start, owned (`tasks.rs`).
    work: Tasks,
}

impl ControlService {
    /// The service over `core`, creating environments as `catalogue` says.
    pub fn new(core: Core, catalogue: Catalogue, identity: Identity) -> Self {
        Self {
            core,
            catalogue: Arc::new(catalogue),
            identity: Arc::new(identity),
            feeds: Arc::new(auto::Feeds::default()),
            stopping: CancellationToken::new(),
            work: Tasks::default(),
        }
    }

    /// Runs the work of the requests (creations, transitions, automatic environments) on
    /// `runtime` rather than the server's.
    pub fn with_work_runtime(mut self, runtime: tokio::runtime::Handle) -> Self {
        self.work = Tasks::on(runtime);
        self
    }

    /// At a stop: starts no more of the requests' tasks, waits up to `grace` for those running
    /// (creations, transitions, auto environments, streams) to end, and returns how many are
    /// still running then; the work runtime's shutdown ends those.
    pub async fn close_tasks(&self, grace: std::time::Duration) -> usize {
        self.work.close(grace).await
    }

    /// The tonic service, to add to a server.
    pub fn into_server(self) -> pb::control_server::ControlServer<Self> {
        pb::control_server::ControlServer::new(self)
    }

    /// The configuration service beside it, over the same core and inventory.
    pub fn apricot(&self) -> crate::apricot::ApricotService {
        crate::apricot::ApricotService::new(
            self.core.clone(),
            Arc::clone(&self.catalogue.inventory),
        )
    }

    /// Tells every stream and waiting call that the server stops: streams end with
    /// `UNAVAILABLE`, calls waiting for a transition answer `UNAVAILABLE` (the transition stops
    /// where it is, with the server).
    pub fn stop(&self) {
        self.stopping.cancel();
    }

    fn now_ms(&self) -> i64 {
        self.core.clock().now().unix_millis()
    }

    /// Runs `work` on a task of its own and waits for its answer: the work finishes even if
    /// the client goes away (dropping this future drops only the wait).
    async fn detached<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, Status>> + Send + 'static,
    ) -> Result<T, Status> {
        let handle = self.work.spawn(work);
        tokio::select! {
            biased;
            joined = handle => joined.unwrap_or_else(|error| {
                Err(Status::internal(format!("ecsim failed while serving the request (a bug): {error}")))
            }),
            () = self.stopping.cancelled() => Err(stopping()),
        }
    }

    /// The integrated services' data about `ids`, per environment and plugin.
    fn services_data(
        &self,
        ids: &[String],
        detailed: bool,
    ) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut by_env: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for plugin in self.core.plugins() {
            let data = if detailed {
                plugin.environments_data(ids)
            } else {
                plugin.environments_short_data(ids)
            };
            for (id, value) in data {
                by_env
                    .entry(id)
                    .or_default()
                    .insert(plugin.name().to_owned(), value);
            }
        }
        by_env
    }

    fn info(&self, view: &EnvironmentView, tasks: bool, detailed: bool) -> pb::EnvironmentInfo {
        let id = view.id.to_string();
        let services = self
            .services_data(std::slice::from_ref(&id), detailed)
            .remove(&id)
            .unwrap_or_default();
        convert::environment_info(view, tasks, services, self.core.framework_id())
    }

    fn live(&self, id: &str) -> Result<(EnvironmentId, EnvironmentView), Status> {
        let id = status::environment_id(id)?;
        let view = self.core.view(&id).ok_or_else(|| status::not_found(&id))?;
        Ok((id, view))
    }

    fn task_info(&self, task: &ecsim_core::view::TaskView) -> pb::ShortTaskInfo {
        convert::short_task_info(task, self.core.framework_id())
    }
}

/// The answer of a call whose work the server's stop cut short.
fn stopping() -> Status {
    Status::unavailable(
        "ecsim serve is stopping: the request was under way and stops where it is, with the server",
    )
}

/// Creates an environment as the `creation` RPC does (`public` as the request says); the error
/// is the reply's status.
async fn create(
    core: Core,
    catalogue: Arc<Catalogue>,
    id: EnvironmentId,
    request: pb::NewEnvironmentRequest,
    creation: Creation,
) -> Result<EnvironmentView, Status> {
    let (template, vars) = (request.workflow_template.as_str(), &request.vars);
    let user = user_of(request.request_user.clone());
    // What the asynchronous RPC's failure event names: the template as requested.
    let requested = WorkflowTemplateInfo {
        path: status::clip(template),
        public: request.public,
        ..Default::default()
    };
    let now_ms = || core.clock().now().unix_millis();
    let failed = |error: CoreError| {
        let reason = match &error {
            CoreError::CreateFailed { reason, .. } => reason.clone(),
            other => other.to_string(),
        };
        status::creation_failed(&id, now_ms(), &reason)
    };
    let workflow = match catalogue.resolve(template) {
        Ok(workflow) => workflow,
        Err(error) => {
            return Err(failed(core.refuse_creation(
                &id,
                None,
                &requested,
                user,
                &error.to_string(),
                creation,
            )));
        }
    };
    let spec = match catalogue.spec(Arc::clone(&workflow), vars, user.clone()) {
        Ok(spec) => spec,
        Err(error) => {
            return Err(failed(core.refuse_creation(
                &id,
                Some(&workflow),
                &requested,
                user,
                &error.to_string(),
                creation,
            )));
        }
    };
    let created = core
        .create_environment_as(id.clone(), spec, creation)
        .await
        .map_err(failed)?;
    core.view(&created)
        .ok_or_else(|| status::creation_failed(&id, now_ms(), "the environment is gone"))
}

/// The request's user, or none: AliECS then writes `null` as the last request's user.
fn user_of(user: Option<User>) -> User {
    user.unwrap_or_default()
}

type EventStream = Pin<Box<dyn Stream<Item = Result<Event, Status>> + Send>>;

#[tonic::async_trait]
impl Control for ControlService {
    async fn get_framework_info(
        &self,
        _: Request<pb::GetFrameworkInfoRequest>,
    ) -> Result<Response<pb::GetFrameworkInfoReply>, Status> {
        let (environments, tasks) = self.core.counts();
        let active = self.core.detectors_in_use();
        let (major, minor, patch) = self.identity.version;
        let inventory = &self.catalogue.inventory;
        Ok(Response::new(pb::GetFrameworkInfoReply {
            framework_id: self.core.framework_id().to_owned(),
            environments_count: count(environments),
            tasks_count: count(tasks),
            state: "CONNECTED".to_owned(),
            // AliECS counts the Mesos agents: every FLP of the inventory is one.
            hosts_count: count(inventory.hosts("").len()),
            instance_name: self.identity.instance_name.clone(),
            version: Some(pb::Version {
                major,
                minor,
                patch,
                build: String::new(),
                product_name: "ecsim".to_owned(),
                version_str: format!("{major}.{minor}.{patch}"),
            }),
            configuration_endpoint: self.identity.configuration_endpoint.clone(),
            detectors_in_instance: inventory.detectors(true),
            available_detectors: available(&inventory.detectors(true), &active),
            active_detectors: active,
            timestamp: self.now_ms(),
        }))
    }

    async fn get_environments(
        &self,
        request: Request<pb::GetEnvironmentsRequest>,
    ) -> Result<Response<pb::GetEnvironmentsReply>, Status> {
        let request = request.into_inner();
        let mut views = self.core.views();
        views.retain(|v| request.show_all || v.workflow.public);
        let ids: Vec<String> = views.iter().map(|v| v.id.to_string()).collect();
        let mut data = self.services_data(&ids, request.show_detailed_integrated_services);
        // AliECS sorts by creation time.
        views.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        let environments = views
            .iter()
            .map(|view| {
                let services = data.remove(view.id.as_str()).unwrap_or_default();
                convert::environment_info(
                    view,
                    request.show_task_infos,
                    services,
                    self.core.framework_id(),
                )
            })
            .collect();
        Ok(Response::new(pb::GetEnvironmentsReply {
            framework_id: self.core.framework_id().to_owned(),
            environments,
            timestamp: self.now_ms(),
        }))
    }

    async fn new_auto_environment(
        &self,
        request: Request<pb::NewAutoEnvironmentRequest>,
    ) -> Result<Response<pb::NewAutoEnvironmentReply>, Status> {
        let request = request.into_inner();
        limits::subscription_id(&request.id)?;
        limits::vars(&request.vars)?;
        limits::user(request.request_user.as_ref())?;
        let id = self.core.new_environment_id();
        let (feed, done) = auto::feed(&self.core, id.clone(), &self.work);
        // A subscription id given twice replaces the first one's stream, as in AliECS.
        let registration = self.feeds.add(&request.id, feed);
        let (core, catalogue, feeds, work) = (
            self.core.clone(),
            Arc::clone(&self.catalogue),
            Arc::clone(&self.feeds),
            self.work.clone(),
        );
        self.work.spawn(async move {
            let user = user_of(request.request_user.clone());
            let as_new = pb::NewEnvironmentRequest {
                workflow_template: request.workflow_template,
                vars: request.vars,
                public: false,
                auto_transition: false,
                request_user: request.request_user,
            };
            // AliECS's auto path writes neither of the asynchronous RPC's words on success.
            let created = create(
                core.clone(),
                catalogue,
                id.clone(),
                as_new,
                Creation::Synchronous,
            )
            .await;
            match created {
                Ok(view) => {
                    let basic = templates::runs_basic_tasks(&view.workflow);
                    auto::run(&core, &id, user, basic, &work).await;
                }
                Err(error) => {
                    tracing::info!(error = error.message(), "auto environment not created");
                }
            }
            let _ = done.send(());
            // A feed nobody came for is dropped a while after its environment ended.
            tokio::time::sleep(auto::UNCLAIMED).await;
            feeds.forget(&request.id, registration);
        });
        Ok(Response::new(pb::NewAutoEnvironmentReply {
            timestamp: self.now_ms(),
        }))
    }

    async fn new_environment(
        &self,
        request: Request<pb::NewEnvironmentRequest>,
    ) -> Result<Response<pb::NewEnvironmentReply>, Status> {
        let request = request.into_inner();
        limits::vars(&request.vars)?;
        limits::user(request.request_user.as_ref())?;
        let id = self.core.new_environment_id();
        let auto_transition = request.auto_transition;
        let user = user_of(request.request_user.clone());
        let (core, catalogue) = (self.core.clone(), Arc::clone(&self.catalogue));
        let work = self.work.clone();
        let view = self
            .detached(async move {
                let view =
                    create(core.clone(), catalogue, id, request, Creation::Synchronous).await?;
                if auto_transition {
                    // AliECS starts the run once CONFIGURED and watches it as an auto
                    // environment's, after answering.
                    let (core, id) = (core.clone(), view.id.clone());
                    let basic = templates::runs_basic_tasks(&view.workflow);
                    {
                        let tasks = work.clone();
                        work.spawn(async move { auto::run(&core, &id, user, basic, &tasks).await });
                    }
                }
                Ok(view)
            })
            .await?;
        Ok(Response::new(pb::NewEnvironmentReply {
            environment: Some(self.info(&view, true, true)),
            public: view.workflow.public,
            timestamp: self.now_ms(),
        }))
    }

    async fn get_environment(
        &self,
        request: Request<pb::GetEnvironmentRequest>,
    ) -> Result<Response<pb::GetEnvironmentReply>, Status> {
        let request = request.into_inner();
        let (_, view) = self.live(&request.id)?;
        let workflow = if request.show_workflow_tree {
            view.roles
                .len()
                .checked_sub(1)
                .and_then(|root| convert::role_tree(&view, root))
        } else {
            None
        };
        Ok(Response::new(pb::GetEnvironmentReply {
            environment: Some(self.info(&view, true, true)),
            workflow,
            public: view.workflow.public,
            timestamp: self.now_ms(),
        }))
    }

    async fn control_environment(
        &self,
        request: Request<pb::ControlEnvironmentRequest>,
    ) -> Result<Response<pb::ControlEnvironmentReply>, Status> {
        let request = request.into_inner();
        let id = status::environment_id(&request.id)?;
        if self.core.state(&id).is_none() {
            return Err(status::not_found(&id));
        }
        limits::user(request.request_user.as_ref())?;
        let transition = match Optype::try_from(request.r#type) {
            Ok(Optype::Deploy) => Transition::Deploy,
            Ok(Optype::Configure) => Transition::Configure,
            Ok(Optype::StartActivity) => Transition::StartActivity,
            Ok(Optype::StopActivity) => Transition::StopActivity,
            Ok(Optype::Reset) => Transition::Reset,
            // Not requestable: the core sets the user and refuses.
            Ok(Optype::GoError | Optype::Noop) | Err(_) => Transition::GoError,
        };
        let core = self.core.clone();
        let user = user_of(request.request_user);
        let (result, times, run) = self
            .detached(async move {
                let (result, times) = core.control_timed(&id, transition, user).await;
                Ok((result, times, core.run_number(&id)))
            })
            .await?;
        let state = match result {
            Ok(state) => state,
            // AliECS answers a failed transition whose GO_ERROR went through with the reply and
            // no error status: the state (ERROR) says it. A GO_ERROR that failed too is ABORTED.
            Err(CoreError::TransitionFailed {
                state,
                go_error: None,
                ..
            }) => state,
            Err(CoreError::TransitionFailed {
                go_error: Some(error),
                ..
            }) => return Err(Status::aborted(error.to_string())),
            Err(CoreError::UnknownEnvironment(id)) => return Err(status::not_found(&id)),
            Err(CoreError::NotRequestable(_)) => {
                // Go prints an enum value it does not know by its number.
                let name = Optype::try_from(request.r#type).map_or_else(
                    |_| request.r#type.to_string(),
                    |optype| optype.as_str_name().to_owned(),
                );
                return Err(Status::invalid_argument(format!(
                    "cannot prepare invalid transition {name}"
                )));
            }
            Err(other) => return Err(Status::aborted(other.to_string())),
        };
        Ok(Response::new(pb::ControlEnvironmentReply {
            id: request.id,
            state: state.as_str().to_owned(),
            current_run_number: ecsim_core::run_number::RunNumber::wire(run),
            start_of_transition: times.started.unix_millis(),
            end_of_transition: times.ended.unix_millis(),
            transition_duration: times.ended.unix_millis() - times.started.unix_millis(),
            timestamp: self.now_ms(),
        }))
    }

    async fn destroy_environment(
        &self,
        request: Request<pb::DestroyEnvironmentRequest>,
    ) -> Result<Response<pb::DestroyEnvironmentReply>, Status> {
        let request = request.into_inner();
        let (id, before) = self.live(&request.id)?;
        limits::user(request.request_user.as_ref())?;
        let options = DestroyOptions {
            force: request.force,
            allow_in_running_state: request.allow_in_running_state,
            keep_tasks: request.keep_tasks,
        };
        let core = self.core.clone();
        let user = user_of(request.request_user);
        self.detached(async move {
            match core.destroy(&id, options, user).await {
                Ok(()) => Ok(()),
                Err(CoreError::UnknownEnvironment(id)) => Err(status::not_found(&id)),
                Err(other) => Err(Status::internal(other.to_string())),
            }
        })
        .await?;
        let cleanup_tasks_reply = (!request.keep_tasks).then(|| pb::CleanupTasksReply {
            killed_tasks: before
                .tasks
                .iter()
                .map(|task| {
                    let mut info = self.task_info(task);
                    info.locked = false;
                    info.status = TaskStatus::Inactive.as_str().to_owned();
                    info
                })
                .collect(),
            running_tasks: Vec::new(),
            timestamp: 0,
        });
        Ok(Response::new(pb::DestroyEnvironmentReply {
            cleanup_tasks_reply,
            timestamp: self.now_ms(),
        }))
    }

    async fn get_active_detectors(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::GetActiveDetectorsReply>, Status> {
        Ok(Response::new(pb::GetActiveDetectorsReply {
            detectors: self.core.detectors_in_use(),
            timestamp: self.now_ms(),
        }))
    }

    async fn get_available_detectors(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::GetAvailableDetectorsReply>, Status> {
        Ok(Response::new(pb::GetAvailableDetectorsReply {
            detectors: available(
                &self.catalogue.inventory.detectors(true),
                &self.core.detectors_in_use(),
            ),
            timestamp: self.now_ms(),
        }))
    }

    async fn new_environment_async(
        &self,
        request: Request<pb::NewEnvironmentRequest>,
    ) -> Result<Response<pb::NewEnvironmentReply>, Status> {
        let request = request.into_inner();
        limits::vars(&request.vars)?;
        limits::user(request.request_user.as_ref())?;
        let id = self.core.new_environment_id();
        let reply = pb::NewEnvironmentReply {
            environment: Some(pb::EnvironmentInfo {
                id: id.to_string(),
                state: "PENDING".to_owned(),
                user_vars: request.vars.clone(),
                ..Default::default()
            }),
            public: request.public,
            timestamp: self.now_ms(),
        };
        let (core, catalogue) = (self.core.clone(), Arc::clone(&self.catalogue));
        let work = self.work.clone();
        self.work.spawn(async move {
            let (auto_transition, user) = (
                request.auto_transition,
                user_of(request.request_user.clone()),
            );
            // The outcome reaches clients as events ("created new environment", or the
            // failure's), as in AliECS.
            match create(core.clone(), catalogue, id, request, Creation::Asynchronous).await {
                Ok(view) if auto_transition => {
                    let basic = templates::runs_basic_tasks(&view.workflow);
                    {
                        let tasks = work.clone();
                        work.spawn(
                            async move { auto::run(&core, &view.id, user, basic, &tasks).await },
                        );
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::info!(error = error.message(), "asynchronous creation failed");
                }
            }
        });
        Ok(Response::new(reply))
    }

    async fn get_tasks(
        &self,
        _: Request<pb::GetTasksRequest>,
    ) -> Result<Response<pb::GetTasksReply>, Status> {
        let tasks = self
            .core
            .tasks()
            .iter()
            .map(|task| self.task_info(task))
            .collect();
        Ok(Response::new(pb::GetTasksReply {
            tasks,
            timestamp: self.now_ms(),
        }))
    }

    async fn get_task(
        &self,
        request: Request<pb::GetTaskRequest>,
    ) -> Result<Response<pb::GetTaskReply>, Status> {
        let wanted = TaskId::from(request.into_inner().task_id);
        match self.core.tasks().into_iter().find(|t| t.id == wanted) {
            Some(task) => Ok(Response::new(pb::GetTaskReply {
                task: Some(pb::TaskInfo {
                    short_info: Some(self.task_info(&task)),
                    task_path: task.role_path.clone(),
                    env_id: task
                        .environment_id
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    ..Default::default()
                }),
                timestamp: self.now_ms(),
            })),
            None => Err(Status::not_found("task not found")),
        }
    }

    async fn cleanup_tasks(
        &self,
        request: Request<pb::CleanupTasksRequest>,
    ) -> Result<Response<pb::CleanupTasksReply>, Status> {
        let ids = request.into_inner().task_ids;
        limits::task_ids(&ids)?;
        let ids: Vec<TaskId> = ids.into_iter().map(TaskId::from).collect();
        let killed = self
            .core
            .cleanup_tasks(&ids)
            .iter()
            .map(|task| self.task_info(task))
            .collect();
        Ok(Response::new(pb::CleanupTasksReply {
            killed_tasks: killed,
            running_tasks: Vec::new(),
            timestamp: self.now_ms(),
        }))
    }

    async fn get_roles(
        &self,
        request: Request<pb::GetRolesRequest>,
    ) -> Result<Response<pb::GetRolesReply>, Status> {
        let request = request.into_inner();
        let (_, view) = self.live(&request.env_id)?;
        let roles = convert::query_roles(&view, &request.path_spec)
            .into_iter()
            .filter_map(|index| convert::role_tree(&view, index))
            .collect();
        Ok(Response::new(pb::GetRolesReply {
            roles,
            timestamp: self.now_ms(),
        }))
    }

    async fn get_workflow_templates(
        &self,
        request: Request<pb::GetWorkflowTemplatesRequest>,
    ) -> Result<Response<pb::GetWorkflowTemplatesReply>, Status> {
        let request = request.into_inner();
        let workflow_templates = self
            .catalogue
            .query(&request)?
            .into_iter()
            .map(|workflow| pb::WorkflowTemplateInfo {
                repo: REPOSITORY.to_owned(),
                template: workflow.name.clone(),
                revision: REVISION.to_owned(),
                var_spec_map: crate::varspecs::of(&workflow.name),
                description: workflow.description.clone(),
            })
            .collect();
        Ok(Response::new(pb::GetWorkflowTemplatesReply {
            workflow_templates,
            timestamp: self.now_ms(),
        }))
    }

    async fn list_repos(
        &self,
        request: Request<pb::ListReposRequest>,
    ) -> Result<Response<pb::ListReposReply>, Status> {
        let revisions = if request.into_inner().get_revisions {
            vec![REVISION.to_owned()]
        } else {
            Vec::new()
        };
        Ok(Response::new(pb::ListReposReply {
            repos: vec![pb::RepoInfo {
                name: REPOSITORY.to_owned(),
                default: true,
                default_revision: REVISION.to_owned(),
                revisions,
            }],
            global_default_revision: REVISION.to_owned(),
            timestamp: self.now_ms(),
        }))
    }

    async fn add_repo(
        &self,
        _: Request<pb::AddRepoRequest>,
    ) -> Result<Response<pb::AddRepoReply>, Status> {
        Err(status::unimplemented("AddRepo"))
    }

    async fn remove_repo(
        &self,
        _: Request<pb::RemoveRepoRequest>,
    ) -> Result<Response<pb::RemoveRepoReply>, Status> {
        Err(status::unimplemented("RemoveRepo"))
    }

    async fn refresh_repos(
        &self,
        _: Request<pb::RefreshReposRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        Err(status::unimplemented("RefreshRepos"))
    }

    async fn set_default_repo(
        &self,
        _: Request<pb::SetDefaultRepoRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        Err(status::unimplemented("SetDefaultRepo"))
    }

    async fn set_global_default_revision(
        &self,
        _: Request<pb::SetGlobalDefaultRevisionRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        Err(status::unimplemented("SetGlobalDefaultRevision"))
    }

    async fn set_repo_default_revision(
        &self,
        _: Request<pb::SetRepoDefaultRevisionRequest>,
    ) -> Result<Response<pb::SetRepoDefaultRevisionReply>, Status> {
        Err(status::unimplemented("SetRepoDefaultRevision"))
    }

    type SubscribeStream = EventStream;

    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let id = request.into_inner().id;
        limits::subscription_id(&id)?;
        let stream = subscribe::open(
            &self.core,
            Arc::clone(&self.feeds),
            &id,
            self.stopping.clone(),
            &self.work,
        )?;
        Ok(Response::new(stream))
    }

    async fn get_integrated_services(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::ListIntegratedServicesReply>, Status> {
        // Every plugin AliECS registers, loaded or not (then with an empty info), and the
        // libraries' plugins, which a real AliECS would have registered to load them.
        let mut services: BTreeMap<String, pb::IntegratedServiceInfo> = REGISTERED_PLUGINS
            .iter()
            .map(|name| ((*name).to_owned(), pb::IntegratedServiceInfo::default()))
            .collect();
        for plugin in self.core.plugins() {
            if !plugin.is_integrated_service() {
                continue;
            }
            services.insert(
                plugin.name().to_owned(),
                pb::IntegratedServiceInfo {
                    name: plugin.pretty_name().to_owned(),
                    enabled: true,
                    endpoint: plugin.endpoint(),
                    connection_state: plugin.connection_state(),
                    data: plugin.data(),
                },
            );
        }
        Ok(Response::new(pb::ListIntegratedServicesReply {
            services,
            timestamp: self.now_ms(),
        }))
    }

    async fn teardown(
        &self,
        _: Request<pb::TeardownRequest>,
    ) -> Result<Response<pb::TeardownReply>, Status> {
        // AliECS's own answer.
        Err(Status::unimplemented("not implemented"))
    }

    async fn modify_environment(
        &self,
        _: Request<pb::ModifyEnvironmentRequest>,
    ) -> Result<Response<pb::ModifyEnvironmentReply>, Status> {
        // AliECS's own answer.
        Err(Status::unimplemented("not implemented"))
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The detectors of `all` no environment holds.
fn available(all: &[String], active: &[String]) -> Vec<String> {
    all.iter()
        .filter(|d| !active.iter().any(|a| a == *d))
        .cloned()
        .collect()
}
