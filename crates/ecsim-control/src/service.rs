//! `o2control.Control`, RPC by RPC, over the core's public API.
//!
//! Each method does what AliECS's `core/server.go` does with the same request: the same
//! checks in the same order, the same codes and texts, the same reply fields. Where AliECS's
//! behaviour would leave a client waiting forever (a `Subscribe` to an id that never comes)
//! ecsim answers instead, as the README's "Differences from AliECS" says.

use std::{collections::BTreeMap, pin::Pin, sync::Arc};

use ecsim_core::{
    Core, CoreError, Creation, DestroyOptions, EnvironmentId, fsm::Transition,
    view::EnvironmentView,
};
pub use ecsim_proto::o2control::control_server::Control;
use ecsim_proto::{
    common::{User, WorkflowTemplateInfo},
    events::Event,
    o2control::{self as pb, control_environment_request::Optype},
};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::{
    auto,
    catalogue::{Catalogue, DETECTORS, REPOSITORY, REVISION},
    convert, status,
};

/// How the server presents itself (`GetFrameworkInfo`).
#[derive(Debug, Clone)]
pub struct Identity {
    /// `instanceName`.
    pub instance_name: String,
    /// The version reported, `major.minor.patch`.
    pub version: (i32, i32, i32),
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
        }
    }
}

/// The control API over one core.
#[derive(Debug, Clone)]
pub struct ControlService {
    core: Core,
    catalogue: Arc<Catalogue>,
    identity: Arc<Identity>,
    /// The event feeds of auto environments, until their subscriber takes them.
    feeds: Arc<auto::Feeds>,
}

/// How many events wait for a slow `Subscribe` client before it misses some.
const SUBSCRIBER_BACKLOG: usize = 16 * 1024;

impl ControlService {
    /// The service over `core`, creating environments as `catalogue` says.
    pub fn new(core: Core, catalogue: Catalogue, identity: Identity) -> Self {
        Self {
            core,
            catalogue: Arc::new(catalogue),
            identity: Arc::new(identity),
            feeds: Arc::new(auto::Feeds::default()),
        }
    }

    /// The tonic service, to add to a server.
    pub fn into_server(self) -> pb::control_server::ControlServer<Self> {
        pb::control_server::ControlServer::new(self)
    }

    fn now_ms(&self) -> i64 {
        self.core.clock().now().unix_millis()
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
        convert::environment_info(view, tasks, services)
    }

    fn live(&self, id: &str) -> Result<(EnvironmentId, EnvironmentView), Status> {
        let id = status::environment_id(id)?;
        let view = self.core.view(&id).ok_or_else(|| status::not_found(&id))?;
        Ok((id, view))
    }

    /// Creates an environment as the `creation` RPC does (`public` as the request says); the
    /// error is the reply's status.
    async fn create(
        &self,
        id: EnvironmentId,
        request: &pb::NewEnvironmentRequest,
        creation: Creation,
    ) -> Result<EnvironmentView, Status> {
        let (template, vars) = (request.workflow_template.as_str(), &request.vars);
        let user = user_of(request.request_user.clone());
        // What the asynchronous RPC's failure event names: the template as requested.
        let requested = WorkflowTemplateInfo {
            path: template.to_owned(),
            public: request.public,
            ..Default::default()
        };
        let failed = |error: CoreError| {
            let reason = match &error {
                CoreError::CreateFailed { reason, .. } => reason.clone(),
                other => other.to_string(),
            };
            status::creation_failed(&id, self.now_ms(), &reason)
        };
        let workflow = match self.catalogue.resolve(template) {
            Ok(workflow) => workflow,
            Err(error) => {
                return Err(failed(self.core.refuse_creation(
                    &id,
                    None,
                    &requested,
                    user,
                    &error.to_string(),
                    creation,
                )));
            }
        };
        let spec = match self
            .catalogue
            .spec(Arc::clone(&workflow), vars, user.clone())
        {
            Ok(spec) => spec,
            Err(error) => {
                return Err(failed(self.core.refuse_creation(
                    &id,
                    Some(&workflow),
                    &requested,
                    user,
                    &error.to_string(),
                    creation,
                )));
            }
        };
        let created = self
            .core
            .create_environment_as(id.clone(), spec, creation)
            .await
            .map_err(failed)?;
        self.core
            .view(&created)
            .ok_or_else(|| status::creation_failed(&id, self.now_ms(), "the environment is gone"))
    }
}

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
        let views = self.core.views();
        let active = self.core.detectors_in_use();
        let mut hosts: Vec<&String> = views.iter().flat_map(|v| &v.hosts).collect();
        hosts.sort();
        hosts.dedup();
        let (major, minor, patch) = self.identity.version;
        Ok(Response::new(pb::GetFrameworkInfoReply {
            framework_id: self.core.framework_id().to_owned(),
            environments_count: i32::try_from(views.len()).unwrap_or(i32::MAX),
            tasks_count: i32::try_from(views.iter().map(|v| v.tasks.len()).sum::<usize>())
                .unwrap_or(i32::MAX),
            state: "CONNECTED".to_owned(),
            hosts_count: i32::try_from(hosts.len()).unwrap_or(i32::MAX),
            instance_name: self.identity.instance_name.clone(),
            version: Some(pb::Version {
                major,
                minor,
                patch,
                build: String::new(),
                product_name: "ecsim".to_owned(),
                version_str: format!("{major}.{minor}.{patch}"),
            }),
            configuration_endpoint: String::new(),
            detectors_in_instance: DETECTORS.iter().map(|d| (*d).to_owned()).collect(),
            available_detectors: available(&active),
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
                convert::environment_info(view, request.show_task_infos, services)
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
        let id = self.core.new_environment_id();
        let (feed, done) = auto::feed(&self.core, id.clone());
        if !self.feeds.add(&request.id, feed) {
            return Err(Status::already_exists(format!(
                "the subscription id {:?} is in use: give each auto environment its own",
                request.id
            )));
        }
        let service = self.clone();
        tokio::spawn(async move {
            let user = user_of(request.request_user.clone());
            let as_new = pb::NewEnvironmentRequest {
                workflow_template: request.workflow_template,
                vars: request.vars,
                public: false,
                auto_transition: false,
                request_user: request.request_user,
            };
            // AliECS's auto path writes neither of the asynchronous RPC's words on success.
            let created = service
                .create(id.clone(), &as_new, Creation::Synchronous)
                .await;
            match created {
                Ok(_) => auto::run(&service.core, &id, user).await,
                Err(error) => {
                    tracing::info!(error = error.message(), "auto environment not created");
                }
            }
            let _ = done.send(());
            // A feed nobody came for is dropped a while after its environment ended.
            tokio::time::sleep(auto::UNCLAIMED).await;
            service.feeds.forget(&request.id);
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
        let id = self.core.new_environment_id();
        let view = self.create(id, &request, Creation::Synchronous).await?;
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
        let (id, _) = self.live(&request.id)?;
        let optype = Optype::try_from(request.r#type).unwrap_or(Optype::Noop);
        let transition = match optype {
            Optype::Deploy => Transition::Deploy,
            Optype::Configure => Transition::Configure,
            Optype::StartActivity => Transition::StartActivity,
            Optype::StopActivity => Transition::StopActivity,
            Optype::Reset => Transition::Reset,
            Optype::GoError | Optype::Noop => {
                return Err(Status::invalid_argument(format!(
                    "cannot prepare invalid transition {}",
                    optype.as_str_name()
                )));
            }
        };
        let start = self.core.clock().now();
        let result = self
            .core
            .control(&id, transition, user_of(request.request_user))
            .await;
        let end = self.core.clock().now();
        let state = match result {
            Ok(state) => state,
            // AliECS answers a failed transition whose GO_ERROR went through with the reply and
            // no error status: the state (ERROR) says it.
            Err(CoreError::TransitionFailed { state, .. }) => state,
            Err(CoreError::UnknownEnvironment(id)) => return Err(status::not_found(&id)),
            Err(other) => return Err(Status::aborted(other.to_string())),
        };
        let run = self.core.run_number(&id);
        Ok(Response::new(pb::ControlEnvironmentReply {
            id: id.to_string(),
            state: state.as_str().to_owned(),
            current_run_number: ecsim_core::run_number::RunNumber::wire(run),
            start_of_transition: start.unix_millis(),
            end_of_transition: end.unix_millis(),
            transition_duration: end.unix_millis() - start.unix_millis(),
            timestamp: self.now_ms(),
        }))
    }

    async fn destroy_environment(
        &self,
        request: Request<pb::DestroyEnvironmentRequest>,
    ) -> Result<Response<pb::DestroyEnvironmentReply>, Status> {
        let request = request.into_inner();
        let (id, before) = self.live(&request.id)?;
        let options = DestroyOptions {
            force: request.force,
            allow_in_running_state: request.allow_in_running_state,
        };
        match self
            .core
            .destroy(&id, options, user_of(request.request_user))
            .await
        {
            Ok(()) => {}
            Err(CoreError::UnknownEnvironment(id)) => return Err(status::not_found(&id)),
            Err(other) => return Err(Status::internal(other.to_string())),
        }
        let cleanup_tasks_reply = (!request.keep_tasks).then(|| pb::CleanupTasksReply {
            killed_tasks: before
                .tasks
                .iter()
                .map(|task| {
                    let mut info = convert::short_task_info(task);
                    info.locked = false;
                    info.status = "INACTIVE".to_owned();
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
            detectors: available(&self.core.detectors_in_use()),
            timestamp: self.now_ms(),
        }))
    }

    async fn new_environment_async(
        &self,
        request: Request<pb::NewEnvironmentRequest>,
    ) -> Result<Response<pb::NewEnvironmentReply>, Status> {
        let request = request.into_inner();
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
        let service = self.clone();
        tokio::spawn(async move {
            // The outcome reaches clients as events ("created new environment", or the
            // failure's), as in AliECS.
            if let Err(error) = service.create(id, &request, Creation::Asynchronous).await {
                tracing::info!(error = error.message(), "asynchronous creation failed");
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
            .views()
            .iter()
            .flat_map(|v| v.tasks.iter().map(convert::short_task_info))
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
        let wanted = request.into_inner().task_id;
        for view in self.core.views() {
            if let Some(task) = view.tasks.iter().find(|t| t.id == wanted) {
                return Ok(Response::new(pb::GetTaskReply {
                    task: Some(pb::TaskInfo {
                        short_info: Some(convert::short_task_info(task)),
                        task_path: task.role_path.clone(),
                        env_id: task.environment_id.clone(),
                        ..Default::default()
                    }),
                    timestamp: self.now_ms(),
                }));
            }
        }
        Err(Status::not_found("task not found"))
    }

    async fn cleanup_tasks(
        &self,
        _: Request<pb::CleanupTasksRequest>,
    ) -> Result<Response<pb::CleanupTasksReply>, Status> {
        Err(status::unimplemented("CleanupTasks"))
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
        _: Request<pb::GetWorkflowTemplatesRequest>,
    ) -> Result<Response<pb::GetWorkflowTemplatesReply>, Status> {
        let workflow = &self.catalogue.workflow;
        Ok(Response::new(pb::GetWorkflowTemplatesReply {
            workflow_templates: vec![pb::WorkflowTemplateInfo {
                repo: REPOSITORY.to_owned(),
                template: workflow.name.clone(),
                revision: REVISION.to_owned(),
                var_spec_map: crate::varspecs::of(&workflow.name),
                description: workflow.description.clone(),
            }],
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
        if let Some(feed) = self.feeds.take(&id) {
            return Ok(Response::new(Box::pin(
                tokio_stream::wrappers::ReceiverStream::new(feed),
            )));
        }
        let (id, _) = self.live(&id)?;
        let mut events = self.core.subscribe(SUBSCRIBER_BACKLOG);
        // Subscribed first, checked after: an environment destroyed in between is noticed.
        if self.core.state(&id).is_none() {
            return Err(status::not_found(&id));
        }
        let (sender, receiver) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                let event = match events.recv().await {
                    Ok(event) => event,
                    Err(RecvError::Lagged(missed)) => {
                        let _ = sender.send(Err(auto::lagged(missed))).await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                };
                if convert::environment_of(&event) != Some(id.as_str()) {
                    continue;
                }
                let last = matches!(&event.payload,
                    ecsim_core::event::CorePayload::Environment(e)
                        if e.state == "DONE" && e.message == "environment teardown complete");
                if sender.send(Ok(convert::event(&event))).await.is_err() || last {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }

    async fn get_integrated_services(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::ListIntegratedServicesReply>, Status> {
        let services = self
            .core
            .plugins()
            .iter()
            .map(|plugin| {
                (
                    plugin.name().to_owned(),
                    pb::IntegratedServiceInfo {
                        name: plugin.pretty_name().to_owned(),
                        enabled: true,
                        endpoint: plugin.endpoint(),
                        connection_state: plugin.connection_state(),
                        data: plugin.data(),
                    },
                )
            })
            .collect();
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

/// ALICE's detectors no environment holds.
fn available(active: &[String]) -> Vec<String> {
    DETECTORS
        .iter()
        .filter(|d| !active.iter().any(|a| a == *d))
        .map(|d| (*d).to_owned())
        .collect()
}
