"""Moves a CloudWatch alarm in the emulator to a state and prints the events AWS would send.

moto records alarm states (PutMetricAlarm, SetAlarmState, DescribeAlarms) but never runs an
alarm's actions, so the tests deliver the events themselves. This script creates the alarm if it
does not exist (HealthyHostCount of a target group, as the templates make it), sets its state,
reads it back, and prints, from what DescribeAlarms returned, the two shapes the switch function
accepts:

- "alarm_action": the payload of a Lambda alarm action (CloudWatch User Guide, "Lambda alarm
  actions": source, alarmArn, accountId, time, region, alarmData{alarmName, state,
  previousState, configuration});
- "eventbridge": the "CloudWatch Alarm State Change" event (CloudWatch User Guide, "Alarm events
  and EventBridge": version, id, detail-type, source, account, time, region, resources,
  detail{alarmName, state, previousState, configuration}).

Usage: alarm_event.py --name NAME --state ALARM|OK|INSUFFICIENT_DATA
Reads AWS_ENDPOINT_URL and AWS_DEFAULT_REGION from the environment; prints one JSON document
{"alarm_action": {...}, "eventbridge": {...}}.
"""

import argparse
import json
import os
import uuid

import boto3


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True)
    parser.add_argument("--state", required=True, choices=["ALARM", "OK", "INSUFFICIENT_DATA"])
    args = parser.parse_args()

    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    cw = boto3.client("cloudwatch", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
                      region_name=region)
    found = cw.describe_alarms(AlarmNames=[args.name])["MetricAlarms"]
    if not found:
        cw.put_metric_alarm(
            AlarmName=args.name,
            Namespace="AWS/ApplicationELB",
            MetricName="HealthyHostCount",
            Dimensions=[
                {"Name": "TargetGroup", "Value": "targetgroup/app/0123456789abcdef"},
                {"Name": "LoadBalancer", "Value": "app/shop/0123456789abcdef"},
            ],
            Statistic="Minimum",
            Period=60,
            EvaluationPeriods=3,
            Threshold=1,
            ComparisonOperator="LessThanThreshold",
            TreatMissingData="breaching",
            ActionsEnabled=True,
        )
        found = cw.describe_alarms(AlarmNames=[args.name])["MetricAlarms"]
    previous = found[0]
    cw.set_alarm_state(AlarmName=args.name, StateValue=args.state,
                       StateReason=f"test: {args.state}")
    alarm = cw.describe_alarms(AlarmNames=[args.name])["MetricAlarms"][0]

    def stamp(value):
        # CloudWatch's spelling, to the millisecond: 2019-10-02T17:20:48.551+0000.
        if not hasattr(value, "strftime"):
            return str(value)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"

    state = {"value": alarm["StateValue"], "reason": alarm.get("StateReason", ""),
             "timestamp": stamp(alarm.get("StateUpdatedTimestamp", ""))}
    before = {"value": previous["StateValue"], "reason": previous.get("StateReason", ""),
              "timestamp": stamp(previous.get("StateUpdatedTimestamp", ""))}
    configuration = {
        "description": alarm.get("AlarmDescription", ""),
        "metrics": [{
            "id": str(uuid.uuid4()),
            "metricStat": {
                "metric": {
                    "namespace": alarm["Namespace"],
                    "name": alarm["MetricName"],
                    "dimensions": {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
                },
                "period": alarm["Period"],
                "stat": alarm["Statistic"],
            },
            "returnData": True,
        }],
    }
    account = alarm["AlarmArn"].split(":")[4]
    data = {"alarmName": alarm["AlarmName"], "state": state, "previousState": before,
            "configuration": configuration}
    print(json.dumps({
        "alarm_action": {
            "source": "aws.cloudwatch",
            "alarmArn": alarm["AlarmArn"],
            "accountId": account,
            "time": state["timestamp"],
            "region": region,
            "alarmData": data,
        },
        "eventbridge": {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch",
            "account": account,
            "time": state["timestamp"],
            "region": region,
            "resources": [alarm["AlarmArn"]],
            "detail": data,
        },
    }))


if __name__ == "__main__":
    main()
