"""Captures the switch events a test causes, as a person would route them: an EventBridge rule
on a bus, matching the source `maintenance-responder` and the test's environment, with an SQS
queue as its target (moto delivers PutEvents to such rules, over the wire).

    event_capture.py setup ENDPOINT BUS ENVIRONMENT   prints the queue URL
    event_capture.py drain ENDPOINT QUEUE_URL         prints each captured event, one JSON a line
"""
import json
import sys

import boto3


def clients(endpoint):
    kw = dict(endpoint_url=endpoint, region_name="us-east-1",
              aws_access_key_id="test", aws_secret_access_key="test")
    return boto3.client("events", **kw), boto3.client("sqs", **kw)


def setup(endpoint, bus, environment):
    events, sqs = clients(endpoint)
    name = f"capture-{environment}"
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    if bus != "default":
        try:
            events.create_event_bus(Name=bus)
        except events.exceptions.ResourceAlreadyExistsException:
            pass
    pattern = {"source": ["maintenance-responder"], "detail": {"environment": [environment]}}
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, EventBusName=bus,
                       Targets=[{"Id": "queue", "Arn": arn["Attributes"]["QueueArn"]}])
    print(queue)


def drain(endpoint, queue):
    _, sqs = clients(endpoint)
    while True:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return
        for m in got:
            print(json.dumps(json.loads(m["Body"])))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"setup": setup, "drain": drain}[command](*args)
