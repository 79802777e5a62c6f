"""Drive the Cloud Control emulator with boto3, as a Python user would.

Usage: python3 boto3_flow.py ENDPOINT_URL

The endpoint is passed as an argument (not AWS_ENDPOINT_URL) because
boto3 releases before 1.28 ignore that variable. The script prints one line
per step and exits non-zero with a message naming the first mismatch. It
works with boto3 1.26 (Debian's python3-boto3) and later releases.
"""

import json
import sys
import time

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError, WaiterError

TYPE_NAME = "AWS::IoT::JobTemplate"
TEMPLATE_ID = "boto3-template"
PAGE_IDS = ["boto3-page-a", "boto3-page-b"]
ACCOUNT = "123456789012"
REGION = "us-east-1"
DOCUMENT = '{"operation":"update"}'
ARN = "arn:aws:iot:%s:%s:jobtemplate/%s" % (REGION, ACCOUNT, TEMPLATE_ID)
POLL_DEADLINE_SECONDS = 30
# A short waiter delay: the model's default is 5 s per attempt.
WAITER = {"Delay": 0.05, "MaxAttempts": 200}


class Mismatch(Exception):
    """What boto3 saw differs from what the emulator should answer."""


def check(cond, step, what, got):
    if not cond:
        raise Mismatch("%s: %s; got %r" % (step, what, got))


def step(name, detail):
    print("ok %-28s %s" % (name, detail), flush=True)


def desired(template_id, description):
    return json.dumps(
        {
            "JobTemplateId": template_id,
            "Description": description,
            "Document": DOCUMENT,
            "TimeoutConfig": {"InProgressTimeoutInMinutes": 30},
            "Tags": [{"Key": "via", "Value": "boto3"}],
        }
    )


def poll(cc, token, name):
    """Polls GetResourceRequestStatus until the request is final."""
    deadline = time.monotonic() + POLL_DEADLINE_SECONDS
    polls = 0
    while True:
        ev = cc.get_resource_request_status(RequestToken=token)["ProgressEvent"]
        polls += 1
        check(ev.get("RequestToken") == token, name, "status of another request", ev)
        status = ev["OperationStatus"]
        if status in ("SUCCESS", "FAILED", "CANCEL_COMPLETE"):
            return ev, polls
        check(status in ("PENDING", "IN_PROGRESS"), name, "unknown OperationStatus", ev)
        check(time.monotonic() < deadline, name, "request still not final after %ds" % POLL_DEADLINE_SECONDS, ev)
        wait = ev.get("RetryAfter")
        if wait is not None:
            # RetryAfter is a timestamp; never wait longer than a moment here.
            delay = min(max(wait.timestamp() - time.time(), 0.01), 0.2)
        else:
            delay = 0.02
        time.sleep(delay)


def create(cc, name, template_id, description, **kw):
    ev = cc.create_resource(TypeName=TYPE_NAME, DesiredState=desired(template_id, description), **kw)["ProgressEvent"]
    check(ev.get("Operation") == "CREATE", name, "Operation CREATE", ev)
    check(ev.get("TypeName") == TYPE_NAME, name, "TypeName " + TYPE_NAME, ev)
    check(ev.get("Identifier") == template_id, name, "Identifier " + template_id, ev)
    check(bool(ev.get("RequestToken")), name, "a RequestToken", ev)
    return ev


def error_code(err):
    return err.response.get("Error", {}).get("Code")


def main(endpoint):
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
    )
    config = Config(retries={"max_attempts": 1, "mode": "standard"})
    cc = session.client("cloudcontrol", endpoint_url=endpoint, config=config)
    iot = session.client("iot", endpoint_url=endpoint, config=config)
    sts = session.client("sts", endpoint_url=endpoint, config=config)
    step("versions", "boto3 %s, botocore %s" % (boto3.__version__, botocore.__version__))

    ident = sts.get_caller_identity()
    check(ident.get("Account") == ACCOUNT, "sts get_caller_identity", "Account " + ACCOUNT, ident)
    check(str(ident.get("Arn", "")).startswith("arn:aws:"), "sts get_caller_identity", "an Arn", ident)
    step("sts get_caller_identity", ident["Arn"])

    # Create, then poll by hand until final.
    token_args = {"ClientToken": "boto3-client-token-0001"}
    first = create(cc, "create_resource", TEMPLATE_ID, "made by boto3", **token_args)
    final, polls = poll(cc, first["RequestToken"], "create_resource")
    check(final["OperationStatus"] == "SUCCESS", "create_resource", "SUCCESS", final)
    step("create_resource", "%s SUCCESS after %d poll(s)" % (first["RequestToken"], polls))

    # boto3's own waiter on the same request.
    cc.get_waiter("resource_request_success").wait(RequestToken=first["RequestToken"], WaiterConfig=WAITER)
    step("waiter resource_request_success", "create " + first["RequestToken"])

    # The same ClientToken and request is the same request.
    again = create(cc, "create_resource (token reuse)", TEMPLATE_ID, "made by boto3", **token_args)
    check(
        again["RequestToken"] == first["RequestToken"],
        "create_resource (token reuse)",
        "RequestToken " + first["RequestToken"],
        again,
    )
    step("client token reuse", "same RequestToken " + again["RequestToken"])

    # The same ClientToken with another request is a conflict.
    try:
        cc.create_resource(TypeName=TYPE_NAME, DesiredState=desired(TEMPLATE_ID, "another description"), **token_args)
        raise Mismatch("create_resource (token conflict): want ClientTokenConflictException, got success")
    except cc.exceptions.ClientTokenConflictException as err:
        check(error_code(err) == "ClientTokenConflictException", "client token conflict", "error code", err.response)
    step("client token conflict", "ClientTokenConflictException")

    got = cc.get_resource(TypeName=TYPE_NAME, Identifier=TEMPLATE_ID)
    desc = got["ResourceDescription"]
    check(desc.get("Identifier") == TEMPLATE_ID, "get_resource", "Identifier " + TEMPLATE_ID, desc)
    check(got.get("TypeName") == TYPE_NAME, "get_resource", "TypeName " + TYPE_NAME, got)
    props = json.loads(desc["Properties"])
    check(props.get("Arn") == ARN, "get_resource", "Arn " + ARN, props)
    check(props.get("Description") == "made by boto3", "get_resource", "the Description", props)
    check(props.get("Tags") == [{"Key": "via", "Value": "boto3"}], "get_resource", "the Tags", props)
    for write_only in ("Document", "TimeoutConfig"):
        check(write_only not in props, "get_resource", "write-only %s absent" % write_only, props)
    step("get_resource", "Arn %s, properties %s" % (props["Arn"], ",".join(sorted(props))))

    # Two more templates, so that a page size of one needs three pages.
    for template_id in PAGE_IDS:
        ev = create(cc, "create_resource " + template_id, template_id, "page filler")
        cc.get_waiter("resource_request_success").wait(RequestToken=ev["RequestToken"], WaiterConfig=WAITER)
    pages = 0
    listed = []
    paginator = cc.get_paginator("list_resources")
    for page in paginator.paginate(TypeName=TYPE_NAME, PaginationConfig={"PageSize": 1}):
        pages += 1
        check(page.get("TypeName") == TYPE_NAME, "list_resources", "TypeName " + TYPE_NAME, page)
        descs = page.get("ResourceDescriptions", [])
        check(len(descs) <= 1, "list_resources", "at most one description per page", page)
        for d in descs:
            check("Document" not in json.loads(d["Properties"]), "list_resources", "write-only Document absent", d)
            listed.append(d["Identifier"])
    want = sorted([TEMPLATE_ID] + PAGE_IDS)
    check(sorted(listed) == want, "list_resources", "identifiers %r" % want, listed)
    check(pages >= 3, "list_resources", "three or more pages of one", pages)
    step("list_resources (paginator)", "%d identifiers in %d pages" % (len(listed), pages))

    # A second create of the same id fails asynchronously with AlreadyExists.
    dup = create(cc, "create_resource (duplicate)", TEMPLATE_ID, "made by boto3")
    check(dup["RequestToken"] != first["RequestToken"], "create_resource (duplicate)", "a new RequestToken", dup)
    failed, _ = poll(cc, dup["RequestToken"], "create_resource (duplicate)")
    check(failed["OperationStatus"] == "FAILED", "create_resource (duplicate)", "FAILED", failed)
    check(failed.get("ErrorCode") == "AlreadyExists", "create_resource (duplicate)", "ErrorCode AlreadyExists", failed)
    try:
        cc.get_waiter("resource_request_success").wait(RequestToken=dup["RequestToken"], WaiterConfig=WAITER)
        raise Mismatch("waiter on a FAILED request: want WaiterError, got success")
    except WaiterError as err:
        check("failure state" in str(err), "waiter on a FAILED request", "a failure-state WaiterError", str(err))
    step("create_resource (duplicate)", "FAILED AlreadyExists: %s" % failed.get("StatusMessage"))

    try:
        cc.get_resource(TypeName=TYPE_NAME, Identifier="boto3-missing")
        raise Mismatch("get_resource (missing): want ResourceNotFoundException, got success")
    except cc.exceptions.ResourceNotFoundException as err:
        code = error_code(err)
        check(code == "ResourceNotFoundException", "get_resource (missing)", "error code ResourceNotFoundException", code)
        status = err.response["ResponseMetadata"]["HTTPStatusCode"]
        check(status == 404, "get_resource (missing)", "HTTP 404", status)
    step("get_resource (missing)", "ResourceNotFoundException")

    job = iot.describe_job_template(jobTemplateId=TEMPLATE_ID)
    check(job.get("jobTemplateArn") == ARN, "iot describe_job_template", "jobTemplateArn " + ARN, job)
    check(job.get("jobTemplateId") == TEMPLATE_ID, "iot describe_job_template", "jobTemplateId", job)
    check(job.get("document") == DOCUMENT, "iot describe_job_template", "document " + DOCUMENT, job)
    check(job.get("description") == "made by boto3", "iot describe_job_template", "description", job)
    timeout = job.get("timeoutConfig", {}).get("inProgressTimeoutInMinutes")
    check(timeout == 30, "iot describe_job_template", "timeoutConfig 30 minutes", job)
    step("iot describe_job_template", job["jobTemplateArn"])

    for template_id in [TEMPLATE_ID] + PAGE_IDS:
        ev = cc.delete_resource(TypeName=TYPE_NAME, Identifier=template_id)["ProgressEvent"]
        check(ev.get("Operation") == "DELETE", "delete_resource", "Operation DELETE", ev)
        check(ev.get("Identifier") == template_id, "delete_resource", "Identifier " + template_id, ev)
        cc.get_waiter("resource_request_success").wait(RequestToken=ev["RequestToken"], WaiterConfig=WAITER)
        final, _ = poll(cc, ev["RequestToken"], "delete_resource")
        check(final["OperationStatus"] == "SUCCESS", "delete_resource", "SUCCESS", final)
        step("delete_resource " + template_id, "SUCCESS")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: boto3_flow.py ENDPOINT_URL")
    try:
        sys.exit(main(sys.argv[1]))
    except Mismatch as err:
        sys.exit("FAIL %s" % err)
    except (ClientError, WaiterError) as err:
        sys.exit("FAIL unexpected AWS error: %s" % err)
