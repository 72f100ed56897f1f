"""Deploys deploy/sam/template.yaml to the AWS emulator's CloudFormation, as far as it can.

The emulator runs neither transform of the template, so this script does what CloudFormation
would do before creating anything:
  1. AWS::LanguageExtensions: expands the template's Fn::ForEach loops (one copy of the fragment
     per value of the collection; &{X} in a key becomes the value without its non-alphanumeric
     characters, ${X} in a string and Ref X become the value), as that transform documents;
  2. AWS::Serverless-2016-10-31: translates the result with aws-sam-translator (the library
     behind SAM CLI and the transform), the packages' CodeUri replaced by S3 URIs, as
     `sam package` would (the zips are uploaded to the emulator's S3 first).
Then it creates the stack with the given parameters and reports, as one JSON document:
  {"translated_types": {type: count}, "unsupported_types": [types the emulator's CloudFormation
   does not implement, which it skips without an error], "stack_status": ...,
   "policies": {logical id: document, and "<role>/<policy name>": document} read back from
   the emulator's IAM, "rules": {listener: [{priority, tags}]} read back from its ELBv2}.

Reads AWS_ENDPOINT_URL and AWS_DEFAULT_REGION from the environment.
Usage: sam_deploy.py TEMPLATE STACK_NAME PARAMETERS_JSON
       sam_deploy.py --every-condition-true TEMPLATE PARAMETERS_JSON OUT
(the second writes the translated template with every condition true, every Fn::If its first
branch, for checkov, and creates nothing)
"""

import ast
import io
import json
import os
import re
import sys
import time
import zipfile

import boto3
from cfnlint.decode import decode
from samtranslator.translator.transform import transform


def expand_for_each(section, parameters):
    out = {}
    for key, value in section.items():
        if not key.startswith("Fn::ForEach::"):
            out[key] = value
            continue
        identifier, collection, fragment = value
        values = parameters[collection["Ref"]] if isinstance(collection, dict) else collection
        if isinstance(values, str):
            values = values.split(",")
        for item in values:
            alnum = re.sub(r"[^A-Za-z0-9]", "", item)

            def substitute(node):
                if isinstance(node, str):
                    return node.replace("&{%s}" % identifier, alnum).replace(
                        "${%s}" % identifier, item)
                if isinstance(node, list):
                    return [substitute(n) for n in node]
                if isinstance(node, dict):
                    if node == {"Ref": identifier}:
                        return item
                    node = {substitute(k): substitute(v) for k, v in node.items()}
                    # Ref: !Sub NAME&{X}: the transform resolves the name first.
                    name = node.get("Ref")
                    if isinstance(name, dict) and isinstance(name.get("Fn::Sub"), str) \
                            and "${" not in name["Fn::Sub"]:
                        node = {"Ref": name["Fn::Sub"]}
                    return node
                return node

            out.update(substitute(fragment))
    return out


class NoManagedPolicies:
    """The template names no AWS managed policy: nothing to look up (and no network)."""

    def load(self):
        return {}


def translate(path, parameters, bucket):
    template, problems = decode(path)
    if problems or template is None:
        sys.exit(f"cannot read {path}: {problems}")
    template = json.loads(json.dumps(template))
    assert template["Transform"] == ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"], \
        template["Transform"]
    template["Resources"] = expand_for_each(template["Resources"], parameters)
    template["Outputs"] = expand_for_each(template.get("Outputs", {}), parameters)
    packages = {}
    for name, resource in template["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Function":
            packages[name] = resource["Properties"]["CodeUri"]
            resource["Properties"]["CodeUri"] = f"s3://{bucket}/{name}.zip"
    template["Transform"] = "AWS::Serverless-2016-10-31"
    return transform(template, parameters, NoManagedPolicies()), packages


def every_condition_true(template):
    """The template as CloudFormation creates it when every condition holds."""
    def walk(node):
        if isinstance(node, dict):
            if set(node) == {"Fn::If"}:
                return walk(node["Fn::If"][1])
            return {k: walk(v) for k, v in node.items() if k != "Condition"}
        if isinstance(node, list):
            return [walk(v) for v in node if v != {"Ref": "AWS::NoValue"}]
        return node
    template = walk(template)
    template.pop("Conditions", None)
    template.pop("Rules", None)
    return template


def main():
    if sys.argv[1] == "--every-condition-true":
        path, parameters, out = sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
        translated, _ = translate(path, parameters, "packages")
        with open(out, "w") as f:
            json.dump(every_condition_true(translated), f, indent=1)
        return
    path, stack, parameters = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    session = boto3.session.Session(region_name=os.environ.get("AWS_DEFAULT_REGION"))
    client = lambda name: session.client(name, endpoint_url=endpoint)  # noqa: E731
    bucket = f"{stack}-packages".lower()
    translated, packages = translate(path, parameters, bucket)

    # moto's CloudFormation implements a resource type when a model class declares it.
    from moto.cloudformation.parsing import get_model_map
    import moto.backends  # noqa: F401  (every service's models, so every type registers)
    for service in ("cloudwatch", "lambda", "sqs", "scheduler", "secretsmanager", "iam", "elbv2",
                    "logs", "events"):
        moto.backends.get_backend(service)
    implemented = get_model_map()
    types = {}
    for resource in translated["Resources"].values():
        types[resource["Type"]] = types.get(resource["Type"], 0) + 1

    # What the emulator cannot create is left out, and with it whatever refers to it (a Ref or
    # Fn::GetAtt of it would resolve to nothing), each with the reason.
    left_out = {name: f"{r['Type']} is not implemented by the emulator's CloudFormation"
                for name, r in translated["Resources"].items() if r["Type"] not in implemented}
    # Implemented, but refused where AWS accepts it (moto 5.2's CloudFormation checks a listener
    # as an ALB's: "Listener protocol 'TCP' must be one of 'HTTP, HTTPS'").
    for name, r in translated["Resources"].items():
        if r["Type"] == "AWS::ElasticLoadBalancingV2::Listener" and \
                r["Properties"].get("Protocol") == "TCP":
            left_out[name] = "the emulator's CloudFormation refuses a TCP (NLB) listener"

    def refers_to(node):
        if isinstance(node, dict):
            ref = node.get("Ref")
            if isinstance(ref, str) and ref in left_out:
                return ref
            att = node.get("Fn::GetAtt")
            att = att.split(".")[0] if isinstance(att, str) else (att or [None])[0]
            if isinstance(att, str) and att in left_out:
                return att
            sub = node.get("Fn::Sub")
            sub = sub[0] if isinstance(sub, list) else sub
            if isinstance(sub, str):
                for name in re.findall(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z.]+)?\}", sub):
                    if name in left_out:
                        return name
            for v in node.values():
                found = refers_to(v)
                if found:
                    return found
        if isinstance(node, list):
            for v in node:
                found = refers_to(v)
                if found:
                    return found
        return None

    changed = True
    while changed:
        changed = False
        for name, r in translated["Resources"].items():
            if name in left_out:
                continue
            target = refers_to(r.get("Properties", {}))
            if target:
                left_out[name] = f"refers to {target}, which is left out"
                changed = True
    for name in left_out:
        del translated["Resources"][name]
    for name, r in translated["Resources"].items():
        depends = r.get("DependsOn")
        if isinstance(depends, str):
            depends = [depends]
        if depends:
            r["DependsOn"] = [d for d in depends if d not in left_out]
            if not r["DependsOn"]:
                del r["DependsOn"]
    translated["Outputs"] = {k: v for k, v in translated.get("Outputs", {}).items()
                             if not refers_to(v)}

    s3 = client("s3")
    s3.create_bucket(Bucket=bucket)
    for name in packages:
        data = io.BytesIO()
        with zipfile.ZipFile(data, "w") as z:
            z.writestr("bootstrap", "#!/bin/sh\n")
        s3.put_object(Bucket=bucket, Key=f"{name}.zip", Body=data.getvalue())

    cfn = client("cloudformation")
    cfn.create_stack(
        StackName=stack, TemplateBody=json.dumps(translated),
        Parameters=[{"ParameterKey": k, "ParameterValue": ",".join(v) if isinstance(v, list) else v}
                    for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    status = "CREATE_IN_PROGRESS"
    for _ in range(120):
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        status = described["StackStatus"]
        if not status.endswith("IN_PROGRESS"):
            break
        time.sleep(0.5)
    events = [e.get("ResourceStatusReason") for e in
              cfn.describe_stack_events(StackName=stack)["StackEvents"]
              if "FAILED" in e.get("ResourceStatus", "")]

    def document(value):
        # moto 5.2 keeps a role policy CloudFormation gave it as Python's repr of the dict.
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return ast.literal_eval(value)
        return value

    resources = cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    iam = client("iam")
    policies = {}
    for r in resources:
        if r["ResourceType"] == "AWS::IAM::ManagedPolicy":
            arn = r["PhysicalResourceId"]
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            policies[r["LogicalResourceId"]] = iam.get_policy_version(
                PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
        elif r["ResourceType"] == "AWS::IAM::Role":
            role = r["PhysicalResourceId"]
            policies[f'{r["LogicalResourceId"]}/trust'] = document(iam.get_role(
                RoleName=role)["Role"]["AssumeRolePolicyDocument"])
            for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
                policies[f'{r["LogicalResourceId"]}/{name}'] = document(iam.get_role_policy(
                    RoleName=role, PolicyName=name)["PolicyDocument"])

    elb = client("elbv2")
    rules = {}
    for listener in parameters["ListenerArns"]:
        found = elb.describe_rules(ListenerArn=listener)["Rules"]
        arns = [r["RuleArn"] for r in found if not r["IsDefault"]]
        described = {d["ResourceArn"]: {t["Key"]: t["Value"] for t in d["Tags"]}
                     for d in (elb.describe_tags(ResourceArns=arns)["TagDescriptions"]
                               if arns else [])}
        rules[listener] = sorted(
            ({"priority": int(r["Priority"]), "tags": described.get(r["RuleArn"], {}),
              "action": r["Actions"][0]["Type"]}
             for r in found if not r["IsDefault"]), key=lambda r: r["priority"])

    print(json.dumps({
        "translated_types": types,
        "unsupported_types": sorted(t for t in types if t not in implemented),
        "left_out": left_out,
        "stack_status": status,
        "failures": events,
        "created": sorted({r["ResourceType"] for r in resources}),
        "policies": policies,
        "rules": rules,
    }))


if __name__ == "__main__":
    main()
