# include/environments/dev.yaml is the source of these values; tests/terraform checks they agree.
account_id  = "123456789012"
region      = "ap-northeast-1"
environment = "dev"

# The Airflow workers' role signals the approval after the approval in Airflow.
approver_arns          = ["arn:aws:iam::123456789012:role/drift-repair-airflow-dev"]
min_required_approvals = 1

loop_guard_window_hours   = 24
loop_guard_max_per_window = 3

evidence_bucket_name = "drift-repair-evidence-123456789012-dev"
# dev: GOVERNANCE lock and short retention so test evidence can be cleaned up by an administrator
evidence_object_lock_mode = "GOVERNANCE"
evidence_retention_days   = 90
pre_state_expiration_days = 90

notification_topic_name = "drift-repair-dev"
