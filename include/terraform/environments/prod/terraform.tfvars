# include/environments/prod.yaml is the source of these values; tests/terraform checks they agree.
account_id  = "345678901234"
region      = "ap-northeast-1"
environment = "prod"

# The Airflow workers' role signals the approval after the approval in Airflow.
approver_arns          = ["arn:aws:iam::345678901234:role/drift-repair-airflow-prod"]
min_required_approvals = 1

loop_guard_window_hours   = 168
loop_guard_max_per_window = 2

evidence_bucket_name = "drift-repair-evidence-345678901234-prod"
# prod: COMPLIANCE lock, seven years (ISO 27001 / SOC 2 evidence); nobody can shorten it
evidence_object_lock_mode = "COMPLIANCE"
evidence_retention_days   = 2557
pre_state_expiration_days = 2557

notification_topic_name = "drift-repair-prod"
