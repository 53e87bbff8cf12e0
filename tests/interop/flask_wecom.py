"""Minimal reference WeCom callback server: Flask + wechatpy, answering every text message
with a fixed passive encrypted reply (no knowledge search, no storage — the least work a
callback server can do). Used by scripts/load-wecom.sh as the comparison baseline:

    WECOM_TOKEN=… WECOM_KEY=… WECOM_CORP=… gunicorn -w 2 -b 127.0.0.1:18081 flask_wecom:app
"""
import os

from flask import Flask, request
from wechatpy.enterprise import create_reply, parse_message
from wechatpy.enterprise.crypto import WeChatCrypto

app = Flask(__name__)
crypto = WeChatCrypto(os.environ["WECOM_TOKEN"], os.environ["WECOM_KEY"], os.environ["WECOM_CORP"])


@app.route("/wecom/app", methods=["GET", "POST"])
def wecom():
    sig = request.args.get("msg_signature", "")
    ts = request.args.get("timestamp", "")
    nonce = request.args.get("nonce", "")
    if request.method == "GET":
        return crypto.check_signature(sig, ts, nonce, request.args.get("echostr", ""))
    msg = parse_message(crypto.decrypt_message(request.data, sig, ts, nonce))
    reply = create_reply("收到：%s" % getattr(msg, "content", ""), msg).render()
    return crypto.encrypt_message(reply, nonce, ts)
