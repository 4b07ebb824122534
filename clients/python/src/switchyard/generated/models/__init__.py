"""Contains all the data models used in inputs/outputs"""

from .ack_deliveries_body import AckDeliveriesBody
from .ack_deliveries_response_200 import AckDeliveriesResponse200
from .backfill_trigger_body import BackfillTriggerBody
from .backfill_trigger_response_202 import BackfillTriggerResponse202
from .batch_operation import BatchOperation
from .batch_operation_ctx import BatchOperationCtx
from .batch_operation_op import BatchOperationOp
from .batch_operation_payload import BatchOperationPayload
from .cancel_instance_body import CancelInstanceBody
from .cancel_run_body import CancelRunBody
from .cancel_runs_response_200 import CancelRunsResponse200
from .cancel_runs_response_200_skipped_item import CancelRunsResponse200SkippedItem
from .change_password_body import ChangePasswordBody
from .change_password_response_200 import ChangePasswordResponse200
from .create_grant_body import CreateGrantBody
from .create_instance import CreateInstance
from .create_instance_ctx import CreateInstanceCtx
from .create_member_body import CreateMemberBody
from .create_member_body_grants_item import CreateMemberBodyGrantsItem
from .create_member_body_kind import CreateMemberBodyKind
from .create_org_body import CreateOrgBody
from .create_principal_body import CreatePrincipalBody
from .create_principal_body_grants_item import CreatePrincipalBodyGrantsItem
from .create_principal_body_kind import CreatePrincipalBodyKind
from .create_token_body import CreateTokenBody
from .create_token_body_role import CreateTokenBodyRole
from .definition import Definition
from .definition_context_schema import DefinitionContextSchema
from .definition_states_type_1 import DefinitionStatesType1
from .definition_states_type_1_additional_property_type_0 import (
    DefinitionStatesType1AdditionalPropertyType0,
)
from .definition_transitions_item import DefinitionTransitionsItem
from .definition_transitions_item_assign import DefinitionTransitionsItemAssign
from .delete_key_response_200 import DeleteKeyResponse200
from .delete_member_response_200 import DeleteMemberResponse200
from .delete_principal_response_200 import DeletePrincipalResponse200
from .delivery import Delivery
from .delivery_attempts_item import DeliveryAttemptsItem
from .delivery_status import DeliveryStatus
from .deploy_function import DeployFunction
from .deploy_function_config import DeployFunctionConfig
from .deploy_function_grants_type_0_item import DeployFunctionGrantsType0Item
from .deploy_function_secrets import DeployFunctionSecrets
from .disable_endpoint_body import DisableEndpointBody
from .discard_dead_letters_body import DiscardDeadLettersBody
from .discard_dead_letters_response_200 import DiscardDeadLettersResponse200
from .endpoint import Endpoint
from .endpoint_definition import EndpointDefinition
from .endpoint_health import EndpointHealth
from .endpoint_health_breaker import EndpointHealthBreaker
from .enqueue_job import EnqueueJob
from .enqueue_job_kind import EnqueueJobKind
from .error import Error
from .error_error import ErrorError
from .error_error_code import ErrorErrorCode
from .fire_trigger_body import FireTriggerBody
from .flow import Flow
from .flow_compiled import FlowCompiled
from .flow_definition import FlowDefinition
from .flow_summary import FlowSummary
from .function import Function
from .function_grants_item import FunctionGrantsItem
from .function_settings import FunctionSettings
from .function_settings_config import FunctionSettingsConfig
from .function_settings_grants_type_0_item import FunctionSettingsGrantsType0Item
from .get_bucket_response_200 import GetBucketResponse200
from .get_env_response_200 import GetEnvResponse200
from .get_instance_history_response_200 import GetInstanceHistoryResponse200
from .get_key_history_response_200 import GetKeyHistoryResponse200
from .get_key_history_response_200_history_item import (
    GetKeyHistoryResponse200HistoryItem,
)
from .get_key_history_response_200_history_item_operation import (
    GetKeyHistoryResponse200HistoryItemOperation,
)
from .get_me_response_200 import GetMeResponse200
from .get_me_response_200_grants_item import GetMeResponse200GrantsItem
from .get_me_response_200_kind import GetMeResponse200Kind
from .get_me_response_200_scope_type_0_item import GetMeResponse200ScopeType0Item
from .get_quota_response_200 import GetQuotaResponse200
from .get_secret_response_200 import GetSecretResponse200
from .get_space_stats_response_200 import GetSpaceStatsResponse200
from .get_space_stats_response_200_instances_item import (
    GetSpaceStatsResponse200InstancesItem,
)
from .get_space_stats_response_200_instances_item_status import (
    GetSpaceStatsResponse200InstancesItemStatus,
)
from .get_space_stats_response_200_jobs import GetSpaceStatsResponse200Jobs
from .get_subscription_response_200 import GetSubscriptionResponse200
from .get_usage_response_200 import GetUsageResponse200
from .get_usage_response_200_meters import GetUsageResponse200Meters
from .get_usage_response_200_stored_bytes import GetUsageResponse200StoredBytes
from .grant import Grant
from .instance import Instance
from .instance_child import InstanceChild
from .instance_ctx import InstanceCtx
from .instance_error import InstanceError
from .instance_parent import InstanceParent
from .instance_pending_item import InstancePendingItem
from .instance_pending_item_last_error import InstancePendingItemLastError
from .instance_status import InstanceStatus
from .invocation import Invocation
from .invocation_context import InvocationContext
from .invocation_context_machine import InvocationContextMachine
from .invocation_error import InvocationError
from .invocation_error_error import InvocationErrorError
from .invocation_error_error_details import InvocationErrorErrorDetails
from .invocation_error_type_0 import InvocationErrorType0
from .invocation_status import InvocationStatus
from .job import Job
from .job_attempt import JobAttempt
from .job_error import JobError
from .job_lease_type_0 import JobLeaseType0
from .job_status import JobStatus
from .list_buckets_response_200 import ListBucketsResponse200
from .list_buckets_response_200_buckets_item import ListBucketsResponse200BucketsItem
from .list_dead_letters_response_200 import ListDeadLettersResponse200
from .list_dead_letters_response_200_dead_letters_item import (
    ListDeadLettersResponse200DeadLettersItem,
)
from .list_deliveries_response_200 import ListDeliveriesResponse200
from .list_endpoints_response_200 import ListEndpointsResponse200
from .list_env_response_200 import ListEnvResponse200
from .list_env_response_200_env_item import ListEnvResponse200EnvItem
from .list_flows_response_200 import ListFlowsResponse200
from .list_function_versions_response_200 import ListFunctionVersionsResponse200
from .list_functions_response_200 import ListFunctionsResponse200
from .list_grants_response_200 import ListGrantsResponse200
from .list_instances_response_200 import ListInstancesResponse200
from .list_invocations_response_200 import ListInvocationsResponse200
from .list_jobs_response_200 import ListJobsResponse200
from .list_jobs_status import ListJobsStatus
from .list_keys_response_200 import ListKeysResponse200
from .list_keys_response_200_keys_item import ListKeysResponse200KeysItem
from .list_machines_response_200 import ListMachinesResponse200
from .list_members_response_200 import ListMembersResponse200
from .list_nodes_response_200 import ListNodesResponse200
from .list_orgs_response_200 import ListOrgsResponse200
from .list_principals_response_200 import ListPrincipalsResponse200
from .list_roles_response_200 import ListRolesResponse200
from .list_runs_response_200 import ListRunsResponse200
from .list_secrets_response_200 import ListSecretsResponse200
from .list_secrets_response_200_secrets_item import ListSecretsResponse200SecretsItem
from .list_spaces_response_200 import ListSpacesResponse200
from .list_subscriptions_response_200 import ListSubscriptionsResponse200
from .list_subscriptions_response_200_subscriptions_item import (
    ListSubscriptionsResponse200SubscriptionsItem,
)
from .list_tokens_response_200 import ListTokensResponse200
from .list_trigger_executions_response_200 import ListTriggerExecutionsResponse200
from .list_triggers_response_200 import ListTriggersResponse200
from .log_line import LogLine
from .log_line_fields import LogLineFields
from .log_line_level import LogLineLevel
from .log_record import LogRecord
from .log_record_unreadable import LogRecordUnreadable
from .machine import Machine
from .machine_summary import MachineSummary
from .migrate_instance_body import MigrateInstanceBody
from .nack_deliveries_body import NackDeliveriesBody
from .nack_deliveries_body_leases_item import NackDeliveriesBodyLeasesItem
from .nack_deliveries_response_200 import NackDeliveriesResponse200
from .nack_deliveries_response_200_not_released_item import (
    NackDeliveriesResponse200NotReleasedItem,
)
from .nack_deliveries_response_200_released_leases_item import (
    NackDeliveriesResponse200ReleasedLeasesItem,
)
from .node import Node
from .org import Org
from .org_projects_item import OrgProjectsItem
from .principal import Principal
from .principal_kind import PrincipalKind
from .publish_message_body import PublishMessageBody
from .publish_message_body_headers import PublishMessageBodyHeaders
from .publish_message_response_201 import PublishMessageResponse201
from .pull_deliveries_response_200 import PullDeliveriesResponse200
from .pull_deliveries_response_200_records_item import (
    PullDeliveriesResponse200RecordsItem,
)
from .put_bucket_body import PutBucketBody
from .put_bucket_response_201 import PutBucketResponse201
from .put_endpoint_json_body import PutEndpointJsonBody
from .put_env_body import PutEnvBody
from .put_env_response_200 import PutEnvResponse200
from .put_env_response_201 import PutEnvResponse201
from .put_flow_json_body import PutFlowJsonBody
from .put_key_if_none_match import PutKeyIfNoneMatch
from .put_key_response_200 import PutKeyResponse200
from .put_machine_result import PutMachineResult
from .put_quota_response_200 import PutQuotaResponse200
from .put_role_body import PutRoleBody
from .put_secret_body import PutSecretBody
from .put_secret_response_200 import PutSecretResponse200
from .put_secret_response_201 import PutSecretResponse201
from .put_subscription_body import PutSubscriptionBody
from .put_subscription_body_from_type_0 import PutSubscriptionBodyFromType0
from .put_subscription_response_201 import PutSubscriptionResponse201
from .put_trigger_json_body import PutTriggerJsonBody
from .quota import Quota
from .read_audit_response_200 import ReadAuditResponse200
from .receive_webhook_data_body import ReceiveWebhookDataBody
from .receive_webhook_json_body import ReceiveWebhookJsonBody
from .receive_webhook_response_202 import ReceiveWebhookResponse202
from .redrive_dead_letters_body import RedriveDeadLettersBody
from .redrive_dead_letters_response_200 import RedriveDeadLettersResponse200
from .redrive_deliveries_body import RedriveDeliveriesBody
from .redrive_deliveries_response_202 import RedriveDeliveriesResponse202
from .reset_member_password_body import ResetMemberPasswordBody
from .reset_member_password_response_200 import ResetMemberPasswordResponse200
from .reset_password_body import ResetPasswordBody
from .reset_password_response_200 import ResetPasswordResponse200
from .retry_job_body import RetryJobBody
from .retry_jobs_body import RetryJobsBody
from .retry_jobs_response_200 import RetryJobsResponse200
from .retry_policy import RetryPolicy
from .retry_policy_jitter import RetryPolicyJitter
from .retry_runs_response_200 import RetryRunsResponse200
from .retry_runs_response_200_skipped_item import RetryRunsResponse200SkippedItem
from .role import Role
from .run import Run
from .run_batch_body import RunBatchBody
from .run_batch_response_200 import RunBatchResponse200
from .run_error import RunError
from .run_filter import RunFilter
from .run_filter_status import RunFilterStatus
from .run_node import RunNode
from .run_node_error import RunNodeError
from .run_node_status import RunNodeStatus
from .run_status import RunStatus
from .run_subflow import RunSubflow
from .run_summary import RunSummary
from .run_summary_error import RunSummaryError
from .run_vars import RunVars
from .send_event import SendEvent
from .send_event_payload import SendEventPayload
from .send_run_event_body import SendRunEventBody
from .send_run_event_body_payload import SendRunEventBodyPayload
from .sign_in_body import SignInBody
from .space import Space
from .space_deleted import SpaceDeleted
from .space_deleted_deleted import SpaceDeletedDeleted
from .start_run_body import StartRunBody
from .token import Token
from .token_role import TokenRole
from .transition import Transition
from .transition_ctx import TransitionCtx
from .trigger import Trigger
from .trigger_definition import TriggerDefinition
from .trigger_execution import TriggerExecution
from .trigger_execution_source import TriggerExecutionSource
from .trigger_execution_started_type_0 import TriggerExecutionStartedType0
from .trigger_execution_status import TriggerExecutionStatus
from .trigger_health import TriggerHealth
from .trigger_health_last_rejection_type_0 import TriggerHealthLastRejectionType0

__all__ = (
    "AckDeliveriesBody",
    "AckDeliveriesResponse200",
    "BackfillTriggerBody",
    "BackfillTriggerResponse202",
    "BatchOperation",
    "BatchOperationCtx",
    "BatchOperationOp",
    "BatchOperationPayload",
    "CancelInstanceBody",
    "CancelRunBody",
    "CancelRunsResponse200",
    "CancelRunsResponse200SkippedItem",
    "ChangePasswordBody",
    "ChangePasswordResponse200",
    "CreateGrantBody",
    "CreateInstance",
    "CreateInstanceCtx",
    "CreateMemberBody",
    "CreateMemberBodyGrantsItem",
    "CreateMemberBodyKind",
    "CreateOrgBody",
    "CreatePrincipalBody",
    "CreatePrincipalBodyGrantsItem",
    "CreatePrincipalBodyKind",
    "CreateTokenBody",
    "CreateTokenBodyRole",
    "Definition",
    "DefinitionContextSchema",
    "DefinitionStatesType1",
    "DefinitionStatesType1AdditionalPropertyType0",
    "DefinitionTransitionsItem",
    "DefinitionTransitionsItemAssign",
    "DeleteKeyResponse200",
    "DeleteMemberResponse200",
    "DeletePrincipalResponse200",
    "Delivery",
    "DeliveryAttemptsItem",
    "DeliveryStatus",
    "DeployFunction",
    "DeployFunctionConfig",
    "DeployFunctionGrantsType0Item",
    "DeployFunctionSecrets",
    "DisableEndpointBody",
    "DiscardDeadLettersBody",
    "DiscardDeadLettersResponse200",
    "Endpoint",
    "EndpointDefinition",
    "EndpointHealth",
    "EndpointHealthBreaker",
    "EnqueueJob",
    "EnqueueJobKind",
    "Error",
    "ErrorError",
    "ErrorErrorCode",
    "FireTriggerBody",
    "Flow",
    "FlowCompiled",
    "FlowDefinition",
    "FlowSummary",
    "Function",
    "FunctionGrantsItem",
    "FunctionSettings",
    "FunctionSettingsConfig",
    "FunctionSettingsGrantsType0Item",
    "GetBucketResponse200",
    "GetEnvResponse200",
    "GetInstanceHistoryResponse200",
    "GetKeyHistoryResponse200",
    "GetKeyHistoryResponse200HistoryItem",
    "GetKeyHistoryResponse200HistoryItemOperation",
    "GetMeResponse200",
    "GetMeResponse200GrantsItem",
    "GetMeResponse200Kind",
    "GetMeResponse200ScopeType0Item",
    "GetQuotaResponse200",
    "GetSecretResponse200",
    "GetSpaceStatsResponse200",
    "GetSpaceStatsResponse200InstancesItem",
    "GetSpaceStatsResponse200InstancesItemStatus",
    "GetSpaceStatsResponse200Jobs",
    "GetSubscriptionResponse200",
    "GetUsageResponse200",
    "GetUsageResponse200Meters",
    "GetUsageResponse200StoredBytes",
    "Grant",
    "Instance",
    "InstanceChild",
    "InstanceCtx",
    "InstanceError",
    "InstanceParent",
    "InstancePendingItem",
    "InstancePendingItemLastError",
    "InstanceStatus",
    "Invocation",
    "InvocationContext",
    "InvocationContextMachine",
    "InvocationError",
    "InvocationErrorError",
    "InvocationErrorErrorDetails",
    "InvocationErrorType0",
    "InvocationStatus",
    "Job",
    "JobAttempt",
    "JobError",
    "JobLeaseType0",
    "JobStatus",
    "ListBucketsResponse200",
    "ListBucketsResponse200BucketsItem",
    "ListDeadLettersResponse200",
    "ListDeadLettersResponse200DeadLettersItem",
    "ListDeliveriesResponse200",
    "ListEndpointsResponse200",
    "ListEnvResponse200",
    "ListEnvResponse200EnvItem",
    "ListFlowsResponse200",
    "ListFunctionVersionsResponse200",
    "ListFunctionsResponse200",
    "ListGrantsResponse200",
    "ListInstancesResponse200",
    "ListInvocationsResponse200",
    "ListJobsResponse200",
    "ListJobsStatus",
    "ListKeysResponse200",
    "ListKeysResponse200KeysItem",
    "ListMachinesResponse200",
    "ListMembersResponse200",
    "ListNodesResponse200",
    "ListOrgsResponse200",
    "ListPrincipalsResponse200",
    "ListRolesResponse200",
    "ListRunsResponse200",
    "ListSecretsResponse200",
    "ListSecretsResponse200SecretsItem",
    "ListSpacesResponse200",
    "ListSubscriptionsResponse200",
    "ListSubscriptionsResponse200SubscriptionsItem",
    "ListTokensResponse200",
    "ListTriggerExecutionsResponse200",
    "ListTriggersResponse200",
    "LogLine",
    "LogLineFields",
    "LogLineLevel",
    "LogRecord",
    "LogRecordUnreadable",
    "Machine",
    "MachineSummary",
    "MigrateInstanceBody",
    "NackDeliveriesBody",
    "NackDeliveriesBodyLeasesItem",
    "NackDeliveriesResponse200",
    "NackDeliveriesResponse200NotReleasedItem",
    "NackDeliveriesResponse200ReleasedLeasesItem",
    "Node",
    "Org",
    "OrgProjectsItem",
    "Principal",
    "PrincipalKind",
    "PublishMessageBody",
    "PublishMessageBodyHeaders",
    "PublishMessageResponse201",
    "PullDeliveriesResponse200",
    "PullDeliveriesResponse200RecordsItem",
    "PutBucketBody",
    "PutBucketResponse201",
    "PutEndpointJsonBody",
    "PutEnvBody",
    "PutEnvResponse200",
    "PutEnvResponse201",
    "PutFlowJsonBody",
    "PutKeyIfNoneMatch",
    "PutKeyResponse200",
    "PutMachineResult",
    "PutQuotaResponse200",
    "PutRoleBody",
    "PutSecretBody",
    "PutSecretResponse200",
    "PutSecretResponse201",
    "PutSubscriptionBody",
    "PutSubscriptionBodyFromType0",
    "PutSubscriptionResponse201",
    "PutTriggerJsonBody",
    "Quota",
    "ReadAuditResponse200",
    "ReceiveWebhookDataBody",
    "ReceiveWebhookJsonBody",
    "ReceiveWebhookResponse202",
    "RedriveDeadLettersBody",
    "RedriveDeadLettersResponse200",
    "RedriveDeliveriesBody",
    "RedriveDeliveriesResponse202",
    "ResetMemberPasswordBody",
    "ResetMemberPasswordResponse200",
    "ResetPasswordBody",
    "ResetPasswordResponse200",
    "RetryJobBody",
    "RetryJobsBody",
    "RetryJobsResponse200",
    "RetryPolicy",
    "RetryPolicyJitter",
    "RetryRunsResponse200",
    "RetryRunsResponse200SkippedItem",
    "Role",
    "Run",
    "RunBatchBody",
    "RunBatchResponse200",
    "RunError",
    "RunFilter",
    "RunFilterStatus",
    "RunNode",
    "RunNodeError",
    "RunNodeStatus",
    "RunStatus",
    "RunSubflow",
    "RunSummary",
    "RunSummaryError",
    "RunVars",
    "SendEvent",
    "SendEventPayload",
    "SendRunEventBody",
    "SendRunEventBodyPayload",
    "SignInBody",
    "Space",
    "SpaceDeleted",
    "SpaceDeletedDeleted",
    "StartRunBody",
    "Token",
    "TokenRole",
    "Transition",
    "TransitionCtx",
    "Trigger",
    "TriggerDefinition",
    "TriggerExecution",
    "TriggerExecutionSource",
    "TriggerExecutionStartedType0",
    "TriggerExecutionStatus",
    "TriggerHealth",
    "TriggerHealthLastRejectionType0",
)
