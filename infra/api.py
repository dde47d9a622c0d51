"""The REST API: Slack's three request URLs, result polling, and a health check.

- ``POST /slack/commands``, ``/slack/interactions``, ``/slack/events`` -> the Slack handlers.
  Slack cannot sign requests with AWS credentials, so these methods have no API Gateway
  authorizer: the handlers verify ``X-Slack-Signature`` before anything else. API Gateway
  already refuses (400) a request without the two Slack signature headers (request validator).
- ``GET /results/{id}`` -> results_api, with IAM authorization (SigV4); ``POST
  /results/{id}/webhooks`` (register a signed webhook for a workflow's result) likewise.
- ``GET /health`` -> functions/health, without authorization (uptime monitors cannot sign):
  each check's state and latency, 503 when one fails; no details (those are in ``/monitor``).

Request size: API Gateway has no body-size setting (its hard limit is 10 MB), so a WAF web ACL
on the stage blocks any body above ``maxRequestBodyBytes`` (default 16 KB, the most WAF
inspects for API Gateway without a paid upgrade; oversize bodies count as a match) with 413.
The Slack handlers check the size again before verifying (defence in depth). The ACL also
rate-limits per client IP and applies AWS's known-bad-inputs rule group. Stage throttling,
JSON access logs and X-Ray tracing are on.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra import common
from infra.settings import EnvSettings

SLACK_SIGNATURE_HEADERS = ("X-Slack-Signature", "X-Slack-Request-Timestamp")


@dataclass(frozen=True)
class Route:
    path: str  # without the leading slash
    method: str
    function: str  # functions/<folder>
    # "slack" (signature checked in the handler), "iam" (SigV4) or "open" (no credentials)
    auth: str


ROUTES = (
    Route("slack/commands", "POST", "slack_commands", "slack"),
    Route("slack/interactions", "POST", "slack_interactions", "slack"),
    Route("slack/events", "POST", "slack_events", "slack"),
    Route("results/{id}", "GET", "results_api", "iam"),
    Route("health", "GET", "health", "open"),
    Route("results/{id}/webhooks", "POST", "results_api", "iam"),
)


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: EnvSettings,
        functions: dict[str, lambda_.Function],
    ) -> None:
        super().__init__(scope, id)
        env = settings.env_name
        self._stage_name = env
        access_logs = common.log_group(self, "AccessLogs", settings)
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"autodev-{env}",
            description="autodev: Slack request URLs and result polling",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # The account-level role API Gateway needs to write execution logs.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=env,
                throttling_rate_limit=settings.api_rate_limit,
                throttling_burst_limit=settings.api_burst_limit,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                # Bodies carry Slack payloads: never log them.
                data_trace_enabled=False,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
            ),
        )
        self.validator = apigw.RequestValidator(
            self,
            "ParametersValidator",
            rest_api=self.rest_api,
            request_validator_name="required-parameters",
            validate_request_parameters=True,
            # No method declares a body model (Slack posts form-encoded bodies), so this only
            # takes effect where a model is added later.
            validate_request_body=True,
        )
        self.routes: dict[str, apigw.Method] = {}
        for route in ROUTES:
            function = functions.get(route.function)
            if function is not None:
                self.routes[f"{route.method} /{route.path}"] = self._route(route, function)
        self.web_acl = self._web_acl(settings)

    def _resource(self, path: str) -> apigw.IResource:
        return self.rest_api.root.resource_for_path(path)

    def _route(self, route: Route, function: lambda_.Function) -> apigw.Method:
        if route.auth == "iam":
            parameters = {
                f"method.request.path.{name.strip('{}')}": True
                for name in route.path.split("/")
                if name.startswith("{")
            }
            authorization = apigw.AuthorizationType.IAM
        elif route.auth == "open":
            parameters = {}
            authorization = apigw.AuthorizationType.NONE
        else:
            parameters = {f"method.request.header.{h}": True for h in SLACK_SIGNATURE_HEADERS}
            authorization = apigw.AuthorizationType.NONE
        return self._resource(route.path).add_method(
            route.method,
            apigw.LambdaIntegration(function, proxy=True),
            authorization_type=authorization,
            request_parameters=parameters,
            request_validator=self.validator,
        )

    def _web_acl(self, settings: EnvSettings) -> wafv2.CfnWebACL:
        env = settings.env_name

        def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True,
                metric_name=f"autodev-{env}-{name}",
                sampled_requests_enabled=True,
            )

        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"autodev-{env}-api",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility("api"),
            custom_response_bodies={
                "TooLarge": wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON",
                    content='{"error": "request body too large"}',
                )
            },
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="body-size-limit",
                    priority=0,
                    statement=wafv2.CfnWebACL.StatementProperty(
                        size_constraint_statement=wafv2.CfnWebACL.SizeConstraintStatementProperty(
                            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(
                                body=wafv2.CfnWebACL.BodyProperty(oversize_handling="MATCH")
                            ),
                            comparison_operator="GT",
                            size=settings.max_request_body_bytes,
                            text_transformations=[
                                wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
                            ],
                        )
                    ),
                    action=wafv2.CfnWebACL.RuleActionProperty(
                        block=wafv2.CfnWebACL.BlockActionProperty(
                            custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                                response_code=413, custom_response_body_key="TooLarge"
                            )
                        )
                    ),
                    visibility_config=visibility("body-size"),
                ),
                wafv2.CfnWebACL.RuleProperty(
                    name="rate-per-ip",
                    priority=1,
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            # Requests per 5 minutes from one address; Slack spreads its
                            # requests over many addresses.
                            limit=max(100, settings.api_rate_limit * 60),
                            aggregate_key_type="IP",
                        )
                    ),
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    visibility_config=visibility("rate"),
                ),
                wafv2.CfnWebACL.RuleProperty(
                    name="aws-known-bad-inputs",
                    priority=2,
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS", name="AWSManagedRulesKnownBadInputsRuleSet"
                        )
                    ),
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    visibility_config=visibility("bad-inputs"),
                ),
            ],
        )
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.rest_api.deployment_stage.stage_arn,
            web_acl_arn=acl.attr_arn,
        )
        return acl

    @property
    def url(self) -> str:
        return self.rest_api.url

    def base_url(self) -> str:
        """The stage URL built from the API's id alone (no reference to the stage or its
        deployment), so functions can carry it without a dependency cycle."""
        stack = Stack.of(self)
        stage = self._stage_name  # a literal: deployment_stage.stage_name is a Ref to the stage
        return (
            f"https://{self.rest_api.rest_api_id}.execute-api.{stack.region}."
            f"{stack.url_suffix}/{stage}"
        )
