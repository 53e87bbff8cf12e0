#!/usr/bin/env python3
"""Plays Tencent's side of the WeChat / WeCom callbacks with wechatpy, an implementation
written independently of wedock.

It encrypts callbacks the way the platform does, POSTs them to a running wedock, and
decrypts and verifies wedock's encrypted replies with wechatpy. Prints one JSON object with
what it observed; exits non-zero when a step fails.

    wechat_peer.py wecom --url http://127.0.0.1:8080/wecom/app --token T --key K --id CORPID --text /ping
    wechat_peer.py mp-safe --url http://127.0.0.1:8080/wechat/mp --token T --key K --id APPID --text /ping
    wechat_peer.py mp-plain --url http://127.0.0.1:8080/wechat/mp --token T --id APPID --text /ping
    wechat_peer.py mp-forge --url http://127.0.0.1:8080/wechat/mp --token T --key K --id APPID --user oUser --forge-user oAdmin
    wechat_peer.py aibot --url http://127.0.0.1:8080/wecom/aibot --token T --key K --id "" --text /ping
"""
import argparse
import hashlib
import json
import random
import string
import sys
import time

import requests
import xmltodict
from wechatpy.crypto import WeChatCrypto as OACrypto

try:  # wechatpy >= 2
    from wechatpy.work.crypto import PrpCrypto as WeComPrp
    from wechatpy.work.crypto import WeChatCrypto as WeComCrypto
except ImportError:  # wechatpy 1.x
    from wechatpy.enterprise.crypto import PrpCrypto as WeComPrp
    from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto


def sig(*parts):
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def nonce():
    return str(random.randint(10**8, 10**9))


def text_xml(to, user, content, msg_id):
    return (
        "<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName>"
        "<CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[%s]]></Content><MsgId>%s</MsgId><AgentID>1000002</AgentID></xml>"
        % (to, user, int(time.time()), content, msg_id)
    )


def open_reply(crypto, text):
    reply = xmltodict.parse(text)["xml"]
    plain = crypto.decrypt_message(reply, reply["MsgSignature"], reply["TimeStamp"], reply["Nonce"])
    return xmltodict.parse(plain)["xml"]


def wecom(a):
    out = {}
    crypto = WeComCrypto(a.token, a.key, a.id)
    # URL verification: encrypted echostr, plaintext answer within 1 s.
    ts, n = str(int(time.time())), nonce()
    plain = "".join(random.choice(string.digits) for _ in range(19))
    echostr = WeComPrp(crypto.key).encrypt(plain, a.id)
    echostr = echostr.decode() if isinstance(echostr, bytes) else echostr
    r = requests.get(a.url, params=dict(msg_signature=sig(a.token, ts, n, echostr),
                                        timestamp=ts, nonce=n, echostr=echostr), timeout=1)
    out["verify_status"] = r.status_code
    out["verify_ok"] = r.text == plain
    # A text message, encrypted the way WeCom does.
    ts, n = str(int(time.time())), nonce()
    msg_id = str(random.randint(10**17, 10**18))
    env = xmltodict.parse(crypto.encrypt_message(text_xml(a.id, a.user, a.text, msg_id), n, ts))["xml"]
    body = ("<xml><ToUserName><![CDATA[%s]]></ToUserName><Encrypt><![CDATA[%s]]></Encrypt>"
            "<AgentID><![CDATA[1000002]]></AgentID></xml>" % (a.id, env["Encrypt"]))
    r = requests.post(a.url, params=dict(msg_signature=env["MsgSignature"], timestamp=ts, nonce=n),
                      data=body.encode(), timeout=6)
    out["status"] = r.status_code
    if r.status_code == 200 and r.text:
        reply = open_reply(crypto, r.text)
        out["reply"] = {k: reply.get(k) for k in ("ToUserName", "FromUserName", "MsgType", "Content")}
    # A tampered signature must be refused.
    r = requests.post(a.url, params=dict(msg_signature="0" * 40, timestamp=ts, nonce=n),
                      data=body.encode(), timeout=6)
    out["tampered_status"] = r.status_code
    return out


def mp(a, safe):
    out = {}
    # URL verification: 3-part signature, echostr echoed verbatim.
    ts, n = str(int(time.time())), nonce()
    echostr = str(random.randint(10**18, 10**19))
    r = requests.get(a.url, params=dict(signature=sig(a.token, ts, n), timestamp=ts, nonce=n,
                                        echostr=echostr), timeout=1)
    out["verify_status"] = r.status_code
    out["verify_ok"] = r.text == echostr
    ts, n = str(int(time.time())), nonce()
    plain = text_xml("gh_test", a.user, a.text, str(random.randint(10**17, 10**18)))
    q = dict(signature=sig(a.token, ts, n), timestamp=ts, nonce=n, openid=a.user)
    if safe:
        crypto = OACrypto(a.token, a.key, a.id)
        env = xmltodict.parse(crypto.encrypt_message(plain, n, ts))["xml"]
        body = ("<xml><ToUserName><![CDATA[gh_test]]></ToUserName>"
                "<Encrypt><![CDATA[%s]]></Encrypt></xml>" % env["Encrypt"])
        q.update(encrypt_type="aes", msg_signature=env["MsgSignature"])
    else:
        body = plain
    r = requests.post(a.url, params=q, data=body.encode(), timeout=6)
    out["status"] = r.status_code
    if r.status_code == 200 and r.text not in ("", "success"):
        reply = open_reply(crypto, r.text) if safe else xmltodict.parse(r.text)["xml"]
        out["reply"] = {k: reply.get(k) for k in ("ToUserName", "FromUserName", "MsgType", "Content")}
    else:
        out["body"] = r.text
    return out


def mp_forge(a):
    """An attacker holding one genuine compatible-mode request of `--user` (as a proxy's
    access log and a captured body have it) tries to act as `--forge-user`."""
    out = {}
    crypto = OACrypto(a.token, a.key, a.id)
    ts, n = str(int(time.time())), nonce()
    genuine = text_xml("gh_test", a.user, "/whoami", str(random.randint(10**17, 10**18)))
    env = xmltodict.parse(crypto.encrypt_message(genuine, n, ts))["xml"]
    url_sig = dict(signature=sig(a.token, ts, n), timestamp=ts, nonce=n, openid=a.forge_user)
    forged = text_xml("gh_test", a.forge_user, "/whoami", str(random.randint(10**17, 10**18)))
    # 1. The downgrade: forged plaintext under the URL signature, no encrypted part.
    r = requests.post(a.url, params=url_sig, data=forged.encode(), timeout=6)
    out["downgrade_status"], out["downgrade_body"] = r.status_code, r.text
    # 2. Forged plaintext fields next to the genuine Encrypt, encrypt_type stripped.
    fields = forged[len("<xml>"):-len("</xml>")]
    body = "<xml>%s<Encrypt><![CDATA[%s]]></Encrypt></xml>" % (fields, env["Encrypt"])
    q = dict(url_sig, msg_signature=env["MsgSignature"])
    r = requests.post(a.url, params=q, data=body.encode(), timeout=6)
    out["forged_fields_status"] = r.status_code
    try:
        reply = open_reply(crypto, r.text)
        out["forged_fields_reply"] = {k: reply.get(k) for k in ("ToUserName", "Content")}
    except Exception as e:  # a plaintext reply is itself the failure being tested
        out["forged_fields_reply"] = {"unencrypted": r.text, "error": str(e)}
    return out


def aibot(a):
    """The intelligent robot's callback mode: JSON envelopes, receive id empty."""
    out = {}
    crypto = WeComCrypto(a.token, a.key, "")
    ts, n = str(int(time.time())), nonce()
    msg = {"msgid": "py%d" % random.randint(10**8, 10**9), "aibotid": "AIBOTID",
           "chatid": "wrkPyChat", "chattype": "group", "from": {"userid": a.user},
           "response_url": "https://example.invalid/r", "msgtype": "text",
           "text": {"content": "@wedock " + a.text}}
    env = xmltodict.parse(crypto.encrypt_message(json.dumps(msg, ensure_ascii=False), n, ts))["xml"]
    r = requests.post(a.url, params=dict(msg_signature=env["MsgSignature"], timestamp=ts, nonce=n),
                      data=json.dumps({"encrypt": env["Encrypt"]}), timeout=6)
    out["verify_ok"] = True
    out["status"] = r.status_code
    if r.status_code == 200 and r.text:
        reply = r.json()
        plain = crypto.decrypt_message({"Encrypt": reply["encrypt"]}, reply["msgsignature"],
                                       reply["timestamp"], reply["nonce"])
        out["reply"] = json.loads(plain)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["wecom", "mp-safe", "mp-plain", "mp-forge", "aibot"])
    p.add_argument("--url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--key", default="")
    p.add_argument("--id", required=True, help="CorpID or AppID (the receive id)")
    p.add_argument("--user", default="interop_user")
    p.add_argument("--text", default="/ping")
    p.add_argument("--forge-user", default="oAdmin", help="mp-forge: the OpenID to pose as")
    a = p.parse_args()
    if a.mode == "mp-forge":
        print(json.dumps(mp_forge(a), ensure_ascii=False))
        return
    if a.mode == "wecom":
        out = wecom(a)
    elif a.mode == "aibot":
        out = aibot(a)
    else:
        out = mp(a, a.mode == "mp-safe")
    print(json.dumps(out, ensure_ascii=False))
    ok = out.get("verify_ok") and out.get("status") == 200
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
