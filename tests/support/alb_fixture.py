"""Builds an ALB fixture in the AWS emulator (or any endpoint) for the listener-rule tests.

What it creates, all named after --name so tests sharing one emulator do not collide:
- a VPC with two subnets in two availability zones;
- an application load balancer with an HTTP:80 and an HTTPS:443 listener (the certificate comes
  from ACM's RequestCertificate, which the emulator accepts without validation), both with a
  fixed-response 404 default action;
- an application target group (`instance`) and the responder's target group (`lambda`);
- on each listener, one app rule per priority given (path `/app<priority>/*`, forward to the
  application target group), and optionally a catch-all app rule (path `/*`) at --catch-all.

Reads AWS_ENDPOINT_URL and AWS_DEFAULT_REGION from the environment (as boto3 always does) and
prints one JSON document:
  {"vpc", "subnets", "load_balancer", "app_target_group", "lambda_target_group", "certificate",
   "certificate_domain", "listeners": {"http", "https"},
   "rules": {"http": {"<priority>": arn}, "https": {...}}}
(certificate_domain: the certificate's domain name as ACM's DescribeCertificate gives it).
"""

import argparse
import json
import os

import boto3


def priorities(text):
    return [int(p) for p in text.split(",") if p.strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True, help="unique prefix for every resource name")
    parser.add_argument("--http", type=priorities, default=[10, 20, 30],
                        help="comma-separated priorities of app rules on the HTTP listener")
    parser.add_argument("--https", type=priorities, default=[10, 20, 30],
                        help="comma-separated priorities of app rules on the HTTPS listener")
    parser.add_argument("--catch-all", type=int, default=None,
                        help="priority of a catch-all app rule (path /*) on both listeners")
    args = parser.parse_args()

    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    session = boto3.session.Session(region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    ec2 = session.client("ec2", endpoint_url=endpoint)
    elb = session.client("elbv2", endpoint_url=endpoint)
    acm = session.client("acm", endpoint_url=endpoint)

    # Short names: ALB and target-group names are limited to 32 characters.
    short = args.name[-24:].strip("-")

    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    region = session.region_name
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{region}{zone}")[
            "Subnet"]["SubnetId"]
        for cidr, zone in (("10.0.1.0/24", "a"), ("10.0.2.0/24", "b"))
    ]
    lb = elb.create_load_balancer(
        Name=f"lb-{short}", Subnets=subnets, Type="application", Scheme="internet-facing"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    app_tg = elb.create_target_group(
        Name=f"app-{short}", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    lambda_tg = elb.create_target_group(Name=f"mr-{short}", TargetType="lambda")[
        "TargetGroups"][0]["TargetGroupArn"]
    cert = acm.request_certificate(DomainName=f"{short}.example.com")["CertificateArn"]

    not_found = [{
        "Type": "fixed-response",
        "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain",
                                "MessageBody": "not found"},
    }]
    listeners = {
        "http": elb.create_listener(
            LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=not_found
        )["Listeners"][0]["ListenerArn"],
        "https": elb.create_listener(
            LoadBalancerArn=lb, Protocol="HTTPS", Port=443, DefaultActions=not_found,
            Certificates=[{"CertificateArn": cert}],
            SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        )["Listeners"][0]["ListenerArn"],
    }

    forward = [{"Type": "forward", "TargetGroupArn": app_tg}]
    rules = {}
    for key, wanted in (("http", args.http), ("https", args.https)):
        rules[key] = {}
        for priority in wanted:
            rules[key][str(priority)] = elb.create_rule(
                ListenerArn=listeners[key], Priority=priority, Actions=forward,
                Conditions=[{"Field": "path-pattern",
                             "PathPatternConfig": {"Values": [f"/app{priority}/*"]}}],
            )["Rules"][0]["RuleArn"]
        if args.catch_all is not None:
            rules[key][str(args.catch_all)] = elb.create_rule(
                ListenerArn=listeners[key], Priority=args.catch_all, Actions=forward,
                Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}],
            )["Rules"][0]["RuleArn"]

    print(json.dumps({
        "vpc": vpc,
        "subnets": subnets,
        "load_balancer": lb,
        "app_target_group": app_tg,
        "lambda_target_group": lambda_tg,
        "certificate": cert,
        "certificate_domain": acm.describe_certificate(CertificateArn=cert)["Certificate"][
            "DomainName"],
        "listeners": listeners,
        "rules": rules,
    }))


if __name__ == "__main__":
    main()
