"""kam_annual_rerating: once a year, rate every customer for the last closed rating year.

freeze_and_rate (build on the data as it stands, freeze the ratings as pending) → gate →
approval by a person in the Airflow UI (human-in-the-loop) unless require_approval is false →
publish (record the approval, gate, publish), or record_rejection when the approver rejects the
list or nobody answers in time. Same code as `kam rerate` (kam.orchestration).
"""

from __future__ import annotations

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk import CronTriggerTimetable, Param, dag, task

from kam import orchestration

POOL = "duckdb"
SCHEDULE = orchestration.schedule_settings()
# Each publication is an event of this Asset (dags/examples/ has a DAG scheduled on it).
PUBLISHED_MARTS = orchestration.published_marts_asset()
APPROVAL = orchestration.approval_settings()
ANSWER = "answer"  # the XCom key of the approver's answer


class ListApproval(ApprovalOperator):
    """Airflow's ApprovalOperator, whose answer (option, who, when, the reason typed) is also an
    XCom on "Reject": there ApprovalOperator skips the downstream tasks by raising, so its
    return value is lost, and record_rejection would not know who rejected the list or why."""

    def execute_complete(self, context, event):
        answer = HITLOperator.execute_complete(self, context=context, event=event)
        context["ti"].xcom_push(key=ANSWER, value=answer)
        return super().execute_complete(context=context, event=event)


@dag(
    dag_id="kam_annual_rerating",
    # No start_date: unpausing waits for the next 15 January (orchestration.NEXT_TICK_ONLY);
    # a run now is a manual trigger.
    schedule=CronTriggerTimetable(
        SCHEDULE["annual"],
        timezone=SCHEDULE["timezone"],
        run_immediately=orchestration.NEXT_TICK_ONLY,
    ),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "kam", "on_failure_callback": orchestration.record_failure},
    params={
        "rating_year": Param(
            None,
            type=["null", "integer"],
            description="Year to rate (default: the last closed rating year)",
        ),
        "require_approval": Param(
            True, type="boolean", description="A person approves the list before it is published"
        ),
        "force": Param(False, type="boolean", description="Re-rate a year already rated"),
        "accept_churn": Param(
            False, type="boolean", description="Accept list churn above the gate's bound"
        ),
    },
    tags=["kam"],
    doc_md=__doc__,
)
def kam_annual_rerating():
    @task(pool=POOL)
    def freeze_and_rate(**context):
        return orchestration.freeze_and_rate(context["params"], context)

    @task(pool=POOL)
    def gate(**context):
        return orchestration.gate_rating(context["params"], context)

    @task.branch
    def needs_approval(**context):
        return "approval" if context["params"]["require_approval"] else "publish"

    # The approver reads the gate's summary; a reason typed in the form goes with a rejection.
    # Nobody answering within the timeout counts as a rejection (the default option).
    approval = ListApproval(
        task_id="approval",
        subject="Approve the key-account list (大客户清单) of "
        "{{ ti.xcom_pull(task_ids='gate')['rating_year'] }}",
        body="{{ ti.xcom_pull(task_ids='gate')['summary'] }}",
        params={"reason": Param("", type="string", description="Why (kept with a rejection)")},
        assigned_users=APPROVAL["assigned_users"],
        response_timeout=APPROVAL["response_timeout"],
        defaults="Reject",
    )

    @task(pool=POOL, trigger_rule="none_failed_min_one_success", outlets=[PUBLISHED_MARTS])
    def publish(**context):
        response = context["ti"].xcom_pull(task_ids="approval", key=ANSWER)
        published = orchestration.approve_and_publish(response, context)
        context["outlet_events"][PUBLISHED_MARTS].extra = published
        return published

    # Runs only when publish was skipped: the approval task skips it on "Reject".
    @task(pool=POOL, trigger_rule="all_skipped")
    def record_rejection(**context):
        response = context["ti"].xcom_pull(task_ids="approval", key=ANSWER)
        return orchestration.record_rejection(response, context)

    branch = needs_approval()
    freeze_and_rate() >> gate() >> branch
    published = publish()
    branch >> [approval, published]
    approval >> published >> record_rejection()


kam_annual_rerating()
