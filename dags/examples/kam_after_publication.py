"""kam_after_publication (an example): runs after every publication of kam's marts.

Scheduled on the Asset `kam_published_marts`, which the publish tasks of kam_daily and
kam_annual_rerating update. Its one task logs what was published; put what should follow a
publication in its place (refresh BI extracts, notify the KAM department, copy the files).
"""

from __future__ import annotations

from airflow.sdk import dag, task

from kam import orchestration


@dag(
    dag_id="kam_after_publication",
    schedule=[orchestration.published_marts_asset()],
    tags=["kam", "example"],
    doc_md=__doc__,
)
def kam_after_publication():
    @task
    def describe_publication(**context):
        return orchestration.describe_publication(context["triggering_asset_events"])

    describe_publication()


kam_after_publication()
