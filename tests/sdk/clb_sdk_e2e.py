#!/usr/bin/env python3
"""Drives a running stgw with the vendor's official Python SDK, unchanged.

The endpoint is the admin listener (http). After each call it checks that
real traffic through the proxy changed as asked. Run by the Rust test
tests/e2e/admin_sdk.rs, which starts stgw and the backends and passes:

  STGW_ENDPOINT     admin listener, e.g. 127.0.0.1:9180
  STGW_SECRET_ID / STGW_SECRET_KEY
  STGW_HTTP_PORT    a free port for the HTTP listener
  STGW_HTTPS_PORT   a free port for the HTTPS listener
  STGW_BACKENDS     name=ip:port,... of live backends (each answers its name)
  STGW_DEAD         ip:port where nothing listens
  STGW_CERT1 / STGW_KEY1 / STGW_CERT2 / STGW_KEY2 / STGW_CERT3 / STGW_KEY3
                    PEM files of three server certificates
  STGW_STATE_DIR    stgw's state_dir (uploaded certificates land there)
  STGW_CONFIG       stgw's configuration file

Exit status 0 = every check passed; the last line says how many.
"""

import http.client
import os
import socket
import ssl
import stat
import sys

from tencentcloud.clb.v20180317 import clb_client, models
from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

ENV = os.environ
CHECKS = 0


def check(condition, what):
    global CHECKS
    if not condition:
        print("FAILED: " + what, flush=True)
        sys.exit(1)
    CHECKS += 1
    print("ok - " + what, flush=True)


def profile():
    return ClientProfile(
        httpProfile=HttpProfile(endpoint=ENV["STGW_ENDPOINT"], protocol="http")
    )


cred = credential.Credential(ENV["STGW_SECRET_ID"], ENV["STGW_SECRET_KEY"])
clb = clb_client.ClbClient(cred, "ap-guangzhou", profile())
# The certificate actions of API 2018-03-17 (UpLoadCert, DescribeCerts,
# ReplaceCert) have no typed model in current SDKs; the SDK's own generic
# client signs and sends them the same way.
common = CommonClient("clb", "2018-03-17", cred, "ap-guangzhou", profile())

HTTP_PORT = int(ENV["STGW_HTTP_PORT"])
HTTPS_PORT = int(ENV["STGW_HTTPS_PORT"])
BACKENDS = dict(
    (name, addr) for name, addr in (b.split("=") for b in ENV["STGW_BACKENDS"].split(","))
)
DEAD = ENV["STGW_DEAD"]
HOST = "sdk.test"


def ip_port(addr):
    ip, port = addr.rsplit(":", 1)
    return ip, int(port)


def get(path, host=HOST, port=HTTP_PORT):
    """One request on a new connection: (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path, headers={"Host": host})
    resp = conn.getresponse()
    body = resp.read().decode()
    headers = {k.lower(): v for k, v in resp.getheaders()}
    conn.close()
    return resp.status, headers, body


def spread(n, path="/"):
    """How many of n requests each backend answered."""
    seen = {}
    for _ in range(n):
        status, _, body = get(path)
        check_quiet(status == 200, "GET %s answered %s: %s" % (path, status, body))
        seen[body] = seen.get(body, 0) + 1
    return seen


def check_quiet(condition, what):
    if not condition:
        print("FAILED: " + what, flush=True)
        sys.exit(1)


def target(name, weight=None, port=None):
    ip, p = ip_port(BACKENDS[name] if name in BACKENDS else name)
    t = models.Target()
    t.EniIp = ip
    t.Port = port if port is not None else p
    if weight is not None:
        t.Weight = weight
    return t


def task_succeeded(request_id):
    req = models.DescribeTaskStatusRequest()
    req.TaskId = request_id
    return clb.DescribeTaskStatus(req).Status == 0


def error_code(call):
    try:
        call()
    except TencentCloudSDKException as e:
        return e.get_code()
    return None


# --- load balancer and listener --------------------------------------------
req = models.CreateLoadBalancerRequest()
req.LoadBalancerType = "INTERNAL"
req.LoadBalancerName = "sdk-e2e"
req.Vip = "127.0.0.1"
resp = clb.CreateLoadBalancer(req)
LB = resp.LoadBalancerIds[0]
check(LB.startswith("lb-"), "CreateLoadBalancer returned " + LB)

req = models.DescribeLoadBalancersRequest()
req.LoadBalancerIds = [LB]
found = clb.DescribeLoadBalancers(req)
check(
    found.TotalCount == 1 and found.LoadBalancerSet[0].LoadBalancerVips == ["127.0.0.1"],
    "DescribeLoadBalancers shows the new load balancer and its VIP",
)

req = models.CreateListenerRequest()
req.LoadBalancerId = LB
req.Ports = [HTTP_PORT]
req.Protocol = "HTTP"
req.ListenerNames = ["web"]
resp = clb.CreateListener(req)
LISTENER = resp.ListenerIds[0]
check(task_succeeded(resp.RequestId), "DescribeTaskStatus reports CreateListener succeeded")
status, _, _ = get("/")
check(status == 404, "the new listener answers on its port (404: no rule yet)")

# --- rules -----------------------------------------------------------------
req = models.CreateRuleRequest()
req.LoadBalancerId = LB
req.ListenerId = LISTENER
rules = []
for url in ["/", "/old", "/new/"]:
    r = models.RuleInput()
    r.Domain = HOST
    r.Url = url
    rules.append(r)
req.Rules = rules
resp = clb.CreateRule(req)
ROOT, OLD, NEW = resp.LocationIds
check(task_succeeded(resp.RequestId), "CreateRule created three rules")
status, _, _ = get("/")
check(status == 503, "a rule without targets answers 503")

# --- targets and weights -----------------------------------------------------
req = models.RegisterTargetsRequest()
req.LoadBalancerId = LB
req.ListenerId = LISTENER
req.LocationId = ROOT
req.Targets = [target("a", 10)]
clb.RegisterTargets(req)
check(spread(5) == {"a": 5}, "after RegisterTargets(a) every request reaches a")

req = models.RegisterTargetsRequest()
req.LoadBalancerId = LB
req.ListenerId = LISTENER
req.Domain = HOST
req.Url = "/"
req.Targets = [target("b", 30)]
clb.RegisterTargets(req)
check(spread(40) == {"a": 10, "b": 30}, "weights 10:30 split 40 requests 10:30")

req = models.ModifyTargetWeightRequest()
req.LoadBalancerId = LB
req.ListenerId = LISTENER
req.LocationId = ROOT
req.Targets = [target("a")]
req.Weight = 30
clb.ModifyTargetWeight(req)
check(spread(60) == {"a": 30, "b": 30}, "ModifyTargetWeight a=30 makes it 30:30")

req = models.BatchModifyTargetWeightRequest()
req.LoadBalancerId = LB
rule = models.RsWeightRule()
rule.ListenerId = LISTENER
rule.LocationId = ROOT
rule.Targets = [target("b", 0)]
req.ModifyList = [rule]
clb.BatchModifyTargetWeight(req)
check(spread(10) == {"a": 10}, "BatchModifyTargetWeight b=0 sends nothing to b")

req = models.DescribeTargetsRequest()
req.LoadBalancerId = LB
req.ListenerIds = [LISTENER]
resp = clb.DescribeTargets(req)
weights = {
    "%s:%d" % (t.PrivateIpAddresses[0], t.Port): t.Weight
    for r in resp.Listeners[0].Rules
    if r.LocationId == ROOT
    for t in r.Targets
}
check(
    weights == {BACKENDS["a"]: 30, BACKENDS["b"]: 0},
    "DescribeTargets shows the weights: %s" % weights,
)

# --- health ------------------------------------------------------------------
req = models.RegisterTargetsRequest()
req.LoadBalancerId = LB
req.ListenerId = LISTENER
req.LocationId = ROOT
req.Targets = [target(DEAD, 10)]
clb.RegisterTargets(req)
# Every request still succeeds (a refused connection is retried on a), and
# the refusing target is ejected at once.
check(spread(8) == {"a": 8}, "with a dead target registered, requests still reach a")
req = models.DescribeTargetHealthRequest()
req.LoadBalancerIds = [LB]
resp = clb.DescribeTargetHealth(req)
health = {
    "%s:%d" % (t.IP, t.Port): (t.HealthStatus, t.HealthStatusDetail)
    for l in resp.LoadBalancers[0].Listeners
    for r in l.Rules
    if r.LocationId == ROOT
    for t in r.Targets
}
check(health[DEAD] == (False, "Dead"), "DescribeTargetHealth reports the dead target Dead")
check(health[BACKENDS["a"]][1] in ("Alive", "Unknown"), "and the live one not Dead: %s" % (health,))

req = models.DeregisterTargetsRequest()
req.LoadBalancerId = LB
req.ListenerId = LISTENER
req.LocationId = ROOT
req.Targets = [target(DEAD), target("b")]
clb.DeregisterTargets(req)
req = models.DescribeTargetHealthRequest()
req.LoadBalancerIds = [LB]
resp = clb.DescribeTargetHealth(req)
left = [
    "%s:%d" % (t.IP, t.Port)
    for l in resp.LoadBalancers[0].Listeners
    for r in l.Rules
    if r.LocationId == ROOT
    for t in r.Targets
]
check(left == [BACKENDS["a"]], "DeregisterTargets left only a")

# --- redirects -----------------------------------------------------------------
req = models.RegisterTargetsRequest()
req.LoadBalancerId = LB
req.ListenerId = LISTENER
req.LocationId = OLD
req.Targets = [target("c")]
clb.RegisterTargets(req)
status, _, body = get("/old")
check((status, body) == (200, "c"), "/old reaches c before the redirect")

req = models.ManualRewriteRequest()
req.LoadBalancerId = LB
req.SourceListenerId = LISTENER
req.TargetListenerId = LISTENER
info = models.RewriteLocationMap()
info.SourceLocationId = OLD
info.TargetLocationId = NEW
info.RewriteCode = 301
info.TakeUrl = False
info.SourceDomain = HOST
req.RewriteInfos = [info]
resp = clb.ManualRewrite(req)
check(task_succeeded(resp.RequestId), "ManualRewrite succeeded")
status, headers, _ = get("/old")
expected = "http://%s:%d/new/" % (HOST, HTTP_PORT)
check(
    status == 301 and headers.get("location") == expected,
    "/old now answers 301 Location %s (got %s %s)" % (expected, status, headers.get("location")),
)

req = models.DescribeRewriteRequest()
req.LoadBalancerId = LB
resp = clb.DescribeRewrite(req)
check(
    [(r.LocationId, r.RewriteTarget.TargetLocationId, r.RewriteTarget.RewriteCode) for r in resp.RewriteSet]
    == [(OLD, NEW, 301)],
    "DescribeRewrite shows /old -> /new/ 301",
)

req = models.ManualRewriteRequest()
req.LoadBalancerId = LB
req.SourceListenerId = LISTENER
req.TargetListenerId = LISTENER
req.RewriteInfos = [info]
check(
    error_code(lambda: clb.ManualRewrite(req)) == "InvalidParameter.RewriteAlreadyExist",
    "a second redirect from the same rule is RewriteAlreadyExist",
)

req = models.DeleteRewriteRequest()
req.LoadBalancerId = LB
req.SourceListenerId = LISTENER
req.TargetListenerId = LISTENER
req.RewriteInfos = [info]
clb.DeleteRewrite(req)
status, _, body = get("/old")
check((status, body) == (200, "c"), "after DeleteRewrite /old reaches c again")

# --- domains and rules ----------------------------------------------------------
req = models.ModifyDomainRequest()
req.LoadBalancerId = LB
req.ListenerId = LISTENER
req.Domain = HOST
req.NewDomain = "renamed.test"
clb.ModifyDomain(req)
status, _, body = get("/", host="renamed.test")
check((status, body) == (200, "a"), "ModifyDomain: the new name routes to the rules")

req = models.ModifyRuleRequest()
req.LoadBalancerId = LB
req.ListenerId = LISTENER
req.LocationId = OLD
req.Url = "/older"
hc = models.HealthCheck()
hc.HealthSwitch = 0
req.HealthCheck = hc
req.Scheduler = "LEAST_CONN"
clb.ModifyRule(req)
status, _, body = get("/older/x", host="renamed.test")
check((status, body) == (200, "c"), "ModifyRule moved the rule to /older")
req = models.DescribeListenersRequest()
req.LoadBalancerId = LB
req.ListenerIds = [LISTENER]
rule = [r for r in clb.DescribeListeners(req).Listeners[0].Rules if r.LocationId == OLD][0]
check(
    (rule.Url, rule.Scheduler, rule.HealthCheck.HealthSwitch) == ("/older", "LEAST_CONN", 0),
    "DescribeListeners shows the modified rule",
)

req = models.DeleteRuleRequest()
req.LoadBalancerId = LB
req.ListenerId = LISTENER
req.LocationIds = [OLD]
clb.DeleteRule(req)
status, _, body = get("/older/x", host="renamed.test")
check((status, body) == (200, "a"), "after DeleteRule /older falls back to the / rule")

# --- certificates -----------------------------------------------------------------
def read(name):
    with open(ENV[name]) as f:
        return f.read()


up = common.call_json(
    "UpLoadCert",
    {"CertType": "SVR", "CertContent": read("STGW_CERT1"), "CertKey": read("STGW_KEY1"), "CertAlias": "one"},
)
CERT1 = up["Response"]["CertID"]
check(CERT1.startswith("cert-"), "UpLoadCert stored " + CERT1)
listed = common.call_json("DescribeCerts", {"CertIdList": [CERT1], "WithCert": True})["Response"]
check(
    listed["TotalCount"] == 1
    and listed["CertList"][0]["Alias"] == "one"
    and listed["CertList"][0]["Domain"] == "one.sdk.test"
    and listed["CertList"][0]["Cert"] == read("STGW_CERT1"),
    "DescribeCerts shows it with its domain and content",
)
state_certs = os.path.join(ENV["STGW_STATE_DIR"], "certs")
for suffix in (".crt", ".key"):
    path = os.path.join(state_certs, CERT1 + suffix)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    check(mode == 0o600, "%s is stored with mode 0600 (got %o)" % (path, mode))
with open(os.path.join(state_certs, CERT1 + ".crt")) as f:
    check(f.read() == read("STGW_CERT1"), "the stored certificate is the uploaded PEM")

req = models.CreateListenerRequest()
req.LoadBalancerId = LB
req.Ports = [HTTPS_PORT]
req.Protocol = "HTTPS"
cert = models.CertificateInput()
cert.SSLMode = "UNIDIRECTIONAL"
cert.CertId = CERT1
req.Certificate = cert
HTTPS = clb.CreateListener(req).ListenerIds[0]


def served_cert():
    """The DER certificate the HTTPS listener presents."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", HTTPS_PORT), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="www.sdk.test") as tls:
            return tls.getpeercert(binary_form=True)


def der(name):
    return ssl.PEM_cert_to_DER_cert(read(name))


def listener_cert(listener_id):
    req = models.DescribeListenersRequest()
    req.LoadBalancerId = LB
    req.ListenerIds = [listener_id]
    return clb.DescribeListeners(req).Listeners[0].Certificate.CertId


check(listener_cert(HTTPS) == CERT1, "the HTTPS listener uses " + CERT1)
check(served_cert() == der("STGW_CERT1"), "and a TLS handshake gets that certificate")

up = common.call_json(
    "UpLoadCert",
    {"CertType": "SVR", "CertContent": read("STGW_CERT2"), "CertKey": read("STGW_KEY2"), "CertAlias": "two"},
)
CERT2 = up["Response"]["CertID"]
common.call_json("ReplaceCert", {"OldCertId": CERT1, "NewCertId": CERT2})
check(listener_cert(HTTPS) == CERT2, "ReplaceCert by id moved the listener to " + CERT2)
check(served_cert() == der("STGW_CERT2"), "new handshakes get the replacement certificate")

common.call_json(
    "ReplaceCert",
    {"OldCertId": CERT2, "NewCertContent": read("STGW_CERT3"), "NewCertKey": read("STGW_KEY3"), "NewCertAlias": "three"},
)
CERT3 = listener_cert(HTTPS)
check(CERT3 not in (CERT1, CERT2), "ReplaceCert with new content stored and bound " + str(CERT3))
listed = common.call_json("DescribeCerts", {"CertIdList": [CERT3]})["Response"]["CertList"]
check(listed[0]["Domain"] == "three.sdk.test", "the replacement certificate is the third one")
check(served_cert() == der("STGW_CERT3"), "and handshakes get the uploaded replacement")
with open(ENV["STGW_CONFIG"]) as f:
    config_text = f.read()
check('id = "%s"' % CERT3 in config_text, "the configuration file references the new certificate")

try:
    common.call_json("DeleteCert", {"CertIds": [CERT3]})
    deleted = None
except TencentCloudSDKException as e:
    deleted = e.get_code()
check(deleted == "ResourceInUse", "DeleteCert refuses a certificate in use")
common.call_json("DeleteCert", {"CertIds": [CERT1]})
check(not os.path.exists(os.path.join(state_certs, CERT1 + ".crt")), "DeleteCert removed an unused one and its file")

# --- listener lifecycle --------------------------------------------------------
req = models.ModifyListenerRequest()
req.LoadBalancerId = LB
req.ListenerId = LISTENER
req.ListenerName = "renamed"
clb.ModifyListener(req)
req = models.DescribeListenersRequest()
req.LoadBalancerId = LB
req.Protocol = "HTTP"
names = [l.ListenerName for l in clb.DescribeListeners(req).Listeners]
check(names == ["renamed"], "ModifyListener renamed the listener")

req = models.DeleteListenerRequest()
req.LoadBalancerId = LB
req.ListenerId = LISTENER
clb.DeleteListener(req)
try:
    get("/", host="renamed.test")
    closed = False
except OSError:
    closed = True
check(closed, "DeleteListener closed the port")

print("%d passed, 0 failed" % CHECKS, flush=True)
