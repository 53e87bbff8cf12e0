//! Known-answer vectors from `wechat-vectors.md` (one test per vector id), plus the
//! negative / edge cases of its section G.
//!
//! Generated from the vector table of `verify_vectors.py`; see that file and
//! `wechat-vectors.md` for the sources of each vector.

mod common;
use common::*;
use wxcrypt::*;

const K_ABC: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const K_43A: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const K_QDG: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const K_WW: &str = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";
const K_WXPY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

/// P1 (plain_sig): wechatpy tests/test_utils.py (test_check_signature_should_ok)
#[test]
fn v_p1() {
    check_plain_sig(
        "test",
        "1410685589",
        "test",
        "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff",
    );
}

/// P2 (plain_sig): official doc: mini-program message-push (GET verify example; echostr 4375120948345356249 echoed back)
#[test]
fn v_p2() {
    check_plain_sig(
        "AAAAA",
        "1714036504",
        "1514711492",
        "f464b24fc39322e44b38aa78f5edd27bd1441696",
    );
}

/// P3 (plain_sig): official doc: mini-program / OA message-push (plaintext-mode POST example)
#[test]
fn v_p3() {
    check_plain_sig(
        "AAAAA",
        "1714037059",
        "486452656",
        "899cf89e464efb63f54ddac96b0a0a235f53aa78",
    );
}

/// P4 (plain_sig): official doc: open-platform message_push (the `signature` query param next to msg_signature)
#[test]
fn v_p4() {
    check_plain_sig(
        "AAAAA",
        "1715943329",
        "1590219412",
        "cc0c594499c1634947d5b502f158ee518947db27",
    );
}

/// P5 (plain_sig): official doc: mini-program message-push safe-mode example (the `signature` query param)
#[test]
fn v_p5() {
    check_plain_sig(
        "AAAAA",
        "1714112445",
        "415670741",
        "6c5c811b55cc85e0e1b54100749188c20beb3f5d",
    );
}

/// OA1 (decrypt): Tencent OA WXBizMsgCrypt Python sample (Sample.py by jonyqin), vendored at charlesXu86/Chatbot_CN:Chatbot_Web/impl/weixin/Sample.py
#[test]
fn v_oa1() {
    let v = DecryptVector {
        token: "spamtest",
        key: K_ABC,
        receive_id: "wx2c2769f8efd9abc2",
        timestamp: "1409735669",
        nonce: "1320562132",
        msg_signature: "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
        encrypt: "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=",
        echostr: false,
        json: false,
    };
    let plain = check_decrypt(&v);
    assert_eq!(
        plain,
        "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n<CreateTime>1409735668</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[abcdteT]]></Content>\n<MsgId>6054768590064713728</MsgId>\n</xml>"
    );
}

/// OA2 (decrypt): Tencent OA WXBizMsgCrypt C++ sample, vendored at rdxz/FE11:SampleCode/C++/src/Sample.cpp
#[test]
fn v_oa2() {
    let v = DecryptVector {
        token: "spamtest",
        key: K_ABC,
        receive_id: "wx2c2769f8efd9abc2",
        timestamp: "1410349438",
        nonce: "298025754",
        msg_signature: "003fee52ecc56afb46c00b5c7721be87860ce785",
        encrypt: "mfBCs65c67CeJw22u4VT2TD73q5H06+ocrAIxswCaeZ/d/Lw0msSZFHY0teqgSYiI1zR2gD2DKrB3TIrmX/liNSDrGqS8jSI/WPeKB5VPr7Ezr7gomZAyGCwJSgT1TRFWPfONGJMxuj2nk4faTuspAuVIFQ6SHwZuJBZC7mcJp7Cgr9cUhATQWDbOPaE7ukZBTV2YqyzH+UI2AK+J1S47cE79k1RX8t0hcTz/O0hlK8DGXKnvYv88qKQcI7z4iaajqHfRVZKBNyOODabs+It+ZfM3dWTeFcPgDbGtIEnpt/EDtuuA/zMvtkaKdHdswPnVZQ+xdwbYr3ldGvfT8HlEYEgkgKaThxTFobVlwzu2ZkXCjicbP3xdr15Iq48ObgzPpqYuZ3IEoyggZDKClquk0u0orMck4GTF/XyE8yGzc4=",
        echostr: false,
        json: false,
    };
    let plain = check_decrypt(&v);
    assert_eq!(
        xml_field(&plain, "ToUserName").as_deref(),
        Some("gh_10f6c3c3ac5a"),
        "ToUserName"
    );
    assert_eq!(
        xml_field(&plain, "MsgType").as_deref(),
        Some("text"),
        "MsgType"
    );
    assert_eq!(
        xml_field(&plain, "Content").as_deref(),
        Some("abcdteT"),
        "Content"
    );
    assert_eq!(
        xml_field(&plain, "MsgId").as_deref(),
        Some("6057404712141979648"),
        "MsgId"
    );
}

/// OP1 (decrypt): official doc https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/message_push.html (all-zero key example)
#[test]
fn v_op1() {
    let v = DecryptVector {
        token: "AAAAA",
        key: K_43A,
        receive_id: "wx134c8103faa5a59e",
        timestamp: "1715943329",
        nonce: "1590219412",
        msg_signature: "6c12a4205838198b8fa631b3220723bb07f1015c",
        encrypt: "D7yzvUNAL930rd28wf21s4hvXhz0L6Uit/p2Di6C5DHyYGpEgdBRnKjBec34JwoQXicwaZC7fOVihW80F4VtsdvE//1vr7oAbqjDv8KenVp+ajKYpJnyQ4zMRhIC+a31fCVOMC03FfzV/QuC94kBP55a+Za3sJgvAn+ZbsNqZI5DkyuzkhQN8OBqCzFhizGmy0xpM0MEA4agpvE+RuNO1rhHTtuJB5yltw1FiYzecSXJ+y/D2r81VkRn2eYjh2ltsoyfbDR7Is6ookXIFxTfyeNyeHxMeT4KN5WpCDmSbTcUYrbBUlkGLJ9n/rU8YOywma6G7aTb7KZKOqCxgfoUlYEZPk4FUL/TK7ShriFDMVCLyjQJ15Ob++agDWtcxhfUfe6HIoIpRW8mKNBQiY/Jd1svvuskA1wLef1RTtzKfMpagSCX/laZINmdnX4zrF6kIaR9P4xQrWXbsTFHTYe0Mg==",
        echostr: false,
        json: false,
    };
    let plain = check_decrypt(&v);
    assert_eq!(
        plain,
        "<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName>\n<FromUserName><![CDATA[o9AgO5Kd5ggOC-bXrbNODIiE3bGY]]></FromUserName>\n<CreateTime>1715943329</CreateTime>\n<MsgType><![CDATA[event]]></MsgType>\n<Event><![CDATA[debug_demo]]></Event>\n<debug_str><![CDATA[hello world]]></debug_str>\n</xml>"
    );
    check_parts(&v, "1205899eaf019bbd", 292, 330, 352);
}

/// MP1 (decrypt): official doc https://developers.weixin.qq.com/miniprogram/dev/framework/server-ability/message-push.html (safe mode, JSON format)
#[test]
fn v_mp1() {
    let v = DecryptVector {
        token: "AAAAA",
        key: K_43A,
        receive_id: "wxba5fad812f8e6fb9",
        timestamp: "1714112445",
        nonce: "415670741",
        msg_signature: "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3",
        encrypt: "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04=",
        echostr: false,
        json: false,
    };
    let plain = check_decrypt(&v);
    assert_eq!(
        plain,
        "{\"ToUserName\":\"gh_97417a04a28d\",\"FromUserName\":\"o9AgO5Kd5ggOC-bXrbNODIiE3bGY\",\"CreateTime\":1714112445,\"MsgType\":\"event\",\"Event\":\"debug_demo\",\"debug_str\":\"hello world\"}"
    );
    check_parts(&v, "a8eedb185eb2fecf", 167, 205, 224);
}

/// OAE1 (encrypt): WxJava WxCryptUtilTest.testAesEncrypt (chanjarster/weixin-java-tools:weixin-java-common/src/test/java/me/chanjar/weixin/common/util/crypto/WxCryptUtilTest.java); values originate from the official Java sample test
#[test]
fn v_oae1() {
    let v = EncryptVector {
        token: "pamtest",
        key: K_ABC,
        receive_id: "wxb11529c136998cb6",
        random: "aaaabbbbccccdddd",
        plaintext: "我是中文abcd123",
        encrypt: "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==",
    };
    check_encrypt(&v);
}

/// OAE2 (encrypt): WxJava WxCryptUtilTest.testAesEncrypt2 (same file as OAE1)
#[test]
fn v_oae2() {
    let v = EncryptVector {
        token: "pamtest",
        key: K_ABC,
        receive_id: "wxb11529c136998cb6",
        random: "aaaabbbbccccdddd",
        plaintext: "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title><Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>",
        encrypt: "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb",
    };
    check_encrypt(&v);
}

/// OPE1 (encrypt): official doc open-platform message_push (reply example; note the doc's own plaintext lacks '<![')
#[test]
fn v_ope1() {
    let v = EncryptVector {
        token: "AAAAA",
        key: K_43A,
        receive_id: "wx134c8103faa5a59e",
        random: "999951349e8ee746",
        plaintext: "<xml><demo_resp>[CDATA[good luck]]</demo_resp></xml>",
        encrypt: "hE8R6mGXHkJJjU72KxzKUd1GEkKJaEZq7vRL8XgK3o+00k8JGq6+pZJUIlTSyhsX+bxIBQ72g3GyvDdIZcr6+3HAZbSvPT9t/o11MI7d6WELwqrGd7jMnV0zv3Zc9Nq7",
    };
    check_encrypt(&v);
    check_encrypt_signature(
        &v,
        "1713424427",
        "415670741",
        "03e0812039325c2712ef5f0f980fd14c70d6e307",
    );
    check_encrypt_lengths(&v, 52, 90, 96);
}

/// MPE1 (encrypt): official doc mini-program message-push (JSON reply example)
#[test]
fn v_mpe1() {
    let v = EncryptVector {
        token: "AAAAA",
        key: K_43A,
        receive_id: "wxba5fad812f8e6fb9",
        random: "707722b803182950",
        plaintext: "{\"demo_resp\":\"good luck\"}",
        encrypt: "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ==",
    };
    check_encrypt(&v);
    check_encrypt_signature(
        &v,
        "1713424427",
        "415670741",
        "1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1",
    );
    check_encrypt_lengths(&v, 25, 63, 64);
}

/// WC1 (decrypt): WeCom official samples (e.g. workweixin/weworkapi_golang:json_callback/sample.go, C# Sample.cs; doc path/90968); expected plaintext per many SDK tests
#[test]
fn v_wc1() {
    let v = DecryptVector {
        token: "QDG6eK",
        key: K_QDG,
        receive_id: "wx5823bf96d3bd56c7",
        timestamp: "1409659589",
        nonce: "263014780",
        msg_signature: "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
        encrypt: "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
        echostr: true,
        json: false,
    };
    let plain = check_decrypt(&v);
    assert_eq!(plain, "1616140317555161061");
}

/// WC2 (decrypt): WeCom official Python sample sbzhu/weworkapi_python:callback/Sample.py (VerifyURL example)
#[test]
fn v_wc2() {
    let v = DecryptVector {
        token: "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo",
        key: K_WW,
        receive_id: "ww1436e0e65a779aee",
        timestamp: "1476416373",
        nonce: "47744683",
        msg_signature: "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
        encrypt: "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==",
        echostr: true,
        json: false,
    };
    let plain = check_decrypt(&v);
    assert_eq!(plain, "1288432023552776189");
}

/// WC3 (decrypt): wechatpy tests/test_crypto.py test_check_signature_should_ok (wechatpy/wechatpy)
#[test]
fn v_wc3() {
    let v = DecryptVector {
        token: "123456",
        key: K_WXPY,
        receive_id: "wx49f0ab532d5d035a",
        timestamp: "1411443780",
        nonce: "437374425",
        msg_signature: "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96",
        encrypt: "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==",
        echostr: true,
        json: false,
    };
    let plain = check_decrypt(&v);
    assert!(!plain.is_empty());
}

/// WC4 (decrypt): WeCom official samples (C# Sample.cs, Python Sample.py comment) + doc path/90968 worked example
#[test]
fn v_wc4() {
    let v = DecryptVector {
        token: "QDG6eK",
        key: K_QDG,
        receive_id: "wx5823bf96d3bd56c7",
        timestamp: "1409659813",
        nonce: "1372623149",
        msg_signature: "477715d11cdb4164915debcba66cb864d751f3e6",
        encrypt: "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==",
        echostr: false,
        json: false,
    };
    let plain = check_decrypt(&v);
    assert_eq!(
        xml_field(&plain, "ToUserName").as_deref(),
        Some("wx5823bf96d3bd56c7"),
        "ToUserName"
    );
    assert_eq!(
        xml_field(&plain, "FromUserName").as_deref(),
        Some("mycreate"),
        "FromUserName"
    );
    assert_eq!(
        xml_field(&plain, "CreateTime").as_deref(),
        Some("1409659813"),
        "CreateTime"
    );
    assert_eq!(
        xml_field(&plain, "MsgType").as_deref(),
        Some("text"),
        "MsgType"
    );
    assert_eq!(
        xml_field(&plain, "Content").as_deref(),
        Some("hello"),
        "Content"
    );
    assert_eq!(
        xml_field(&plain, "MsgId").as_deref(),
        Some("4561255354251345929"),
        "MsgId"
    );
    assert_eq!(
        xml_field(&plain, "AgentID").as_deref(),
        Some("218"),
        "AgentID"
    );
}

/// WC5 (decrypt): WeCom official Python sample sbzhu/weworkapi_python:callback/Sample.py (DecryptMsg example); plaintext = the sample's own sRespData
#[test]
fn v_wc5() {
    let v = DecryptVector {
        token: "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo",
        key: K_WW,
        receive_id: "ww1436e0e65a779aee",
        timestamp: "1476422779",
        nonce: "1597212914",
        msg_signature: "0c3914025cb4b4d68103f6bfc8db550f79dcf48e",
        encrypt: "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+",
        echostr: false,
        json: false,
    };
    let plain = check_decrypt(&v);
    assert_eq!(
        plain,
        "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName><CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content><MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>"
    );
}

/// WC6 (decrypt): wechatpy tests/test_crypto.py test_decrypt_message (asserts Content=='test', FromUserName=='messense')
#[test]
fn v_wc6() {
    let v = DecryptVector {
        token: "123456",
        key: K_WXPY,
        receive_id: "wx49f0ab532d5d035a",
        timestamp: "1411525903",
        nonce: "461056294",
        msg_signature: "74d92dfeb87ba7c714f89d98870ae5eb62dff26d",
        encrypt: "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=",
        echostr: false,
        json: false,
    };
    let plain = check_decrypt(&v);
    assert_eq!(
        xml_field(&plain, "Content").as_deref(),
        Some("test"),
        "Content"
    );
    assert_eq!(
        xml_field(&plain, "FromUserName").as_deref(),
        Some("messense"),
        "FromUserName"
    );
}

/// WC7 (decrypt): WeCom official Go JSON-callback sample workweixin/weworkapi_golang:json_callback/sample.go (DecryptMsg); plaintext = the sample's respData
#[test]
fn v_wc7() {
    let v = DecryptVector {
        token: "QDG6eK",
        key: K_QDG,
        receive_id: "wx5823bf96d3bd56c7",
        timestamp: "1409659813",
        nonce: "1372623149",
        msg_signature: "0623cbc5a8cbee5bcc137c70de99575366fc2af3",
        encrypt: "CZWs4CWRpI4VolQlvn4dlEC1alN2MUEY2VklGehgBVLBrlVF7SyT+SV+Toj43l4ayJ9UMGKphktKKmP7B2j/P1ey67XB8PBgS7Wr5/8+w/yWriZv3Vmoo/MH3/1HsIWZrPQ3N2mJrelStIfI2Y8kLKXA7EhfZgZX4o+ffdkZDM76SEl79Ib9mw7TGjZ9Aw/x/A2VjNbV1E8BtEbRxYYcQippYNw7hr8sFfa3nW1xLdxokt8QkRX83vK3DFP2F6TQFPL2Tu98UwhcUpPvdJBuu1/yiOQIScppV3eOuLWEsko=",
        echostr: false,
        json: true,
    };
    let plain = check_decrypt(&v);
    assert_eq!(
        plain,
        "{\"ToUserName\":\"wx5823bf96d3bd56c7\",\"FromUserName\":\"mycreate\",\"CreateTime\": 1409659813,\"MsgType\":\"text\",\"Content\":\"hello\",\"MsgId\":4561255354251345929,\"AgentID\": 218}"
    );
}

/// WC8 (decrypt): WeCom official Python JSON sample sbzhu/weworkapi_python:callback_json/Sample.py (plaintext = the sample's own, deliberately malformed, sRespData)
#[test]
fn v_wc8() {
    let v = DecryptVector {
        token: "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo",
        key: K_WW,
        receive_id: "ww1436e0e65a779aee",
        timestamp: "1409659813",
        nonce: "1372623149",
        msg_signature: "e3647471e395139e2308c1fa963f2d648a00b90e",
        encrypt: "cjhLUX7UU4yCSelv1vz7T0zT8huF51bAMVWriNvO1FMegHrQZNrtvRxbwf0fUPsFvwqR0U0fgiJNEA5Y30F2MoI2S7vv3EjVQ68C0cjw9frBoUE2Hj0BvFp9h3u6Vbsg4lc1C8AtHdaN8orKuNKkLRLuYEL52R1J3v8olJGZRLnRdVKIivixmX/eQpzgeExtp20jI1HxRP1AAZ6xZoILdqDPO549LO4WeG+685JRUTdiwcY5fjZlqeMxuT4PpMn1X9OWsS7NRj06Wa5E3Tvg4twjWp39KPfOdRte6P1T4JU=",
        echostr: false,
        json: true,
    };
    let plain = check_decrypt(&v);
    assert_eq!(
        plain,
        "{ \"ToUserName\": \"wx5823bf96d3bd56c7\", \"FromUserName\": :mycreate\", \"CreateTime\": 1409659813, \"MsgType\": \"text\", \"Content\": \"hello\", \"MsgId\": 4561255354251345929, \"AgentID\": 218}"
    );
}

/// WCE1 (encrypt): wechatpy tests/test_crypto.py test_encrypt_message (PrpCryptoMock random '1234567890123456')
#[test]
fn v_wce1() {
    let v = EncryptVector {
        token: "123456",
        key: K_WXPY,
        receive_id: "wx49f0ab532d5d035a",
        random: "1234567890123456",
        plaintext: "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n<ToUserName><![CDATA[messense]]></ToUserName>\n<AgentID>1</AgentID>\n<CreateTime>1411525903</CreateTime>\n</xml>",
        encrypt: "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3",
    };
    check_encrypt(&v);
    check_encrypt_signature(
        &v,
        "1411525903",
        "461056294",
        "407518b7649e86ef23978113f92d27afa9296533",
    );
    check_envelope(
        &v,
        "1411525903",
        "461056294",
        "<xml>\n<Encrypt><![CDATA[9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3]]></Encrypt>\n<MsgSignature><![CDATA[407518b7649e86ef23978113f92d27afa9296533]]></MsgSignature>\n<TimeStamp>1411525903</TimeStamp>\n<Nonce><![CDATA[461056294]]></Nonce>\n</xml>",
    );
}
// ---------------------------------------------------------------------------------------
// Section G: negative / edge cases. (Tampered signature → −40001 and wrong receive id →
// −40005 are also checked for every decrypt vector inside `check_decrypt`.)
// ---------------------------------------------------------------------------------------

/// G1: tampered `msg_signature` (40×`0`) → −40001 before any decryption, even when the
/// ciphertext itself is garbage.
#[test]
fn g1_tampered_signature() {
    let crypt = MsgCrypt::from_config("QDG6eK", K_QDG, "wx5823bf96d3bd56c7").unwrap();
    let zeros = "0".repeat(40);
    for enc in ["not base64 at all", "YWJj", "AAAAAAAAAAAAAAAAAAAAAA=="] {
        assert_eq!(
            crypt
                .decrypt_message(&zeros, "1409659813", "1372623149", enc)
                .unwrap_err(),
            Error::ValidateSignature
        );
    }
}

/// G2: correct signature, wrong configured receive id → −40005.
#[test]
fn g2_wrong_receive_id() {
    let crypt = MsgCrypt::from_config("spamtest", K_ABC, "wx2c2769f8efd9abc2x").unwrap();
    let enc = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=";
    let err = crypt
        .decrypt_message(
            "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
            "1409735669",
            "1320562132",
            enc,
        )
        .unwrap_err();
    assert_eq!(err, Error::ValidateReceiveId);
    assert_eq!(err.code(), -40005);
}

/// G3: ciphertext whose base64 decodes to a non-multiple of 16 (`YWJj` = "abc") → −40007;
/// an empty ciphertext too.
#[test]
fn g3_ciphertext_not_multiple_of_16() {
    let crypt = MsgCrypt::from_config("t", K_43A, "wxid").unwrap();
    for enc in ["YWJj", ""] {
        let sig = crypt.signature("1", "2", enc);
        let err = crypt.decrypt_message(&sig, "1", "2", enc).unwrap_err();
        assert_eq!(err.code(), -40007, "{enc:?}: {err:?}");
    }
    let key = EncodingAesKey::decode(K_43A).unwrap();
    // 17 bytes.
    assert_eq!(
        decrypt_raw(&key, "AAAAAAAAAAAAAAAAAAAAAAA=")
            .unwrap_err()
            .code(),
        -40007
    );
}

/// G3b: not base64 at all → −40010.
#[test]
fn g3b_bad_base64() {
    let crypt = MsgCrypt::from_config("t", K_43A, "wxid").unwrap();
    for enc in ["!!!!", "YWJ", "YW=j", "YWJj\n"] {
        let sig = crypt.signature("1", "2", enc);
        let err = crypt.decrypt_message(&sig, "1", "2", enc).unwrap_err();
        assert_eq!(err, Error::DecodeBase64, "{enc:?}");
        assert_eq!(err.code(), -40010);
    }
}

/// AES-256-CBC (IV = key[..16], no padding) of an arbitrary block-aligned plaintext, done
/// independently of the crate so that malformed plaintexts can be forged.
fn encrypt_raw_plaintext(key: &EncodingAesKey, plain: &[u8]) -> String {
    use base64::Engine as _;
    use cbc::cipher::block_padding::NoPadding;
    use cbc::cipher::{BlockEncryptMut as _, KeyIvInit as _};
    assert_eq!(plain.len() % 16, 0);
    let mut buf = plain.to_vec();
    let len = buf.len();
    cbc::Encryptor::<aes::Aes256>::new_from_slices(key.as_bytes(), &key.as_bytes()[..16])
        .unwrap()
        .encrypt_padded_mut::<NoPadding>(&mut buf, len)
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(buf)
}

fn header(msg_len: u32) -> Vec<u8> {
    let mut v = b"0123456789abcdef".to_vec();
    v.extend_from_slice(&msg_len.to_be_bytes());
    v
}

/// G4: final padding byte 0 (e.g. 16 zero bytes `AAAAAAAAAAAAAAAAAAAAAA==` under key 43×`A`)
/// or > 32 → −40008.
#[test]
fn g4_bad_padding_value() {
    let key = EncodingAesKey::decode(K_43A).unwrap();
    let crypt = MsgCrypt::new("t", key.clone(), ReceiveId::new("wxid"));
    // The spec's example: its decryption does not end in a byte within 1..=32.
    let err = crypt.decrypt("AAAAAAAAAAAAAAAAAAAAAA==").unwrap_err();
    assert_eq!(err.code(), -40008, "{err:?}");
    for last in [0u8, 33, 64, 255] {
        let mut plain = header(4);
        plain.extend_from_slice(b"abcdwxid");
        plain.resize(63, b'z');
        plain.push(last);
        let enc = encrypt_raw_plaintext(&key, &plain);
        let err = crypt.decrypt(&enc).unwrap_err();
        assert_eq!(err.code(), -40008, "last={last}: {err:?}");
    }
    // Pad bytes that are not all equal.
    let mut plain = header(4);
    plain.extend_from_slice(b"abcdwxid");
    plain.extend_from_slice(&[b'z'; 33]);
    plain.extend_from_slice(&[4, 3, 3]);
    assert_eq!(plain.len(), 64);
    assert_eq!(
        crypt
            .decrypt(&encrypt_raw_plaintext(&key, &plain))
            .unwrap_err()
            .code(),
        -40008
    );
    // Padding value larger than the whole plaintext (16 bytes, pad 32).
    let enc = encrypt_raw_plaintext(&key, &[32u8; 16]);
    assert_eq!(crypt.decrypt(&enc).unwrap_err().code(), -40008);
}

/// G5: `msg_len` larger than the remaining buffer → −40008; content shorter than the 20-byte
/// header → −40008.
#[test]
fn g5_msg_len_overflows_buffer() {
    let key = EncodingAesKey::decode(K_43A).unwrap();
    let crypt = MsgCrypt::new("t", key.clone(), ReceiveId::new("wxid"));
    for msg_len in [9u32, 100, u32::MAX] {
        // random16 ‖ be32(msg_len) ‖ "abcdwxid" ‖ pad(20)
        let mut plain = header(msg_len);
        plain.extend_from_slice(b"abcdwxid");
        plain.extend_from_slice(&[4u8; 4]);
        let enc = encrypt_raw_plaintext(&key, &plain);
        let err = crypt.decrypt(&enc).unwrap_err();
        assert_eq!(
            err,
            Error::IllegalBuffer("msg_len exceeds the plaintext"),
            "{msg_len}"
        );
        assert_eq!(err.code(), -40008);
    }
    // msg_len = 8 consumes the receive id → tail "" ≠ "wxid" → −40005, not a panic.
    let mut plain = header(8);
    plain.extend_from_slice(b"abcdwxid");
    plain.extend_from_slice(&[4u8; 4]);
    assert_eq!(
        crypt
            .decrypt(&encrypt_raw_plaintext(&key, &plain))
            .unwrap_err()
            .code(),
        -40005
    );
    // Sanity: the same construction with the right msg_len decrypts.
    let mut plain = header(4);
    plain.extend_from_slice(b"abcdwxid");
    plain.extend_from_slice(&[4u8; 4]);
    assert_eq!(
        crypt.decrypt(&encrypt_raw_plaintext(&key, &plain)).unwrap(),
        "abcd"
    );
    // Fewer than 20 content bytes.
    let mut plain = vec![b'x'; 10];
    plain.extend_from_slice(&[6u8; 6]);
    assert_eq!(
        crypt
            .decrypt(&encrypt_raw_plaintext(&key, &plain))
            .unwrap_err()
            .code(),
        -40008
    );
}

/// G6: EncodingAESKey of length ≠ 43 → −40004; keys with non-zero trailing base64 bits (all the
/// sample keys except 43×`A`) are accepted.
#[test]
fn g6_key_length_and_trailing_bits() {
    for bad in [
        "",
        "A",
        &"A".repeat(42),
        &"A".repeat(44),
        &format!("{}=", "A".repeat(42)),
    ] {
        let err = EncodingAesKey::decode(bad).unwrap_err();
        assert_eq!(err.code(), -40004, "{bad:?}");
        assert_eq!(
            MsgCrypt::from_config("t", bad, "x").unwrap_err().code(),
            -40004
        );
    }
    // 43 characters but not base64 / not ASCII.
    for bad in [
        format!("{}-", "A".repeat(42)),
        format!("{}é", "A".repeat(41)),
    ] {
        assert_eq!(
            EncodingAesKey::decode(&bad).unwrap_err().code(),
            -40004,
            "{bad:?}"
        );
    }
    // Trailing bits: these keys' last character has non-zero low bits.
    for k in [K_ABC, K_QDG, K_WW, K_WXPY] {
        let key = EncodingAesKey::decode(k).unwrap();
        // Canonical re-encoding differs only in the last character and decodes identically.
        let canon = key.to_encoding_aes_key();
        assert_eq!(canon.len(), 43);
        assert_ne!(canon, k);
        assert_eq!(canon[..42], k[..42]);
        assert_eq!(EncodingAesKey::decode(&canon).unwrap(), key);
    }
    // 43×'A' is the all-zero key.
    let zero = EncodingAesKey::decode(K_43A).unwrap();
    assert_eq!(zero.as_bytes(), &[0u8; 32]);
    assert_eq!(zero.to_encoding_aes_key(), K_43A);
    assert_eq!(format!("{zero:?}"), "EncodingAesKey(***)");
    // FromStr.
    let parsed: EncodingAesKey = K_QDG.parse().unwrap();
    assert_eq!(parsed, EncodingAesKey::decode(K_QDG).unwrap());
}

/// G7: FullStr already a multiple of 32 → a full block of 32 bytes of 0x20
/// (msg of 72 bytes with receive id `wxid`: 16+4+72+4 = 96 → ciphertext 128 bytes).
#[test]
fn g7_full_block_padding() {
    use base64::Engine as _;
    use cbc::cipher::block_padding::NoPadding;
    use cbc::cipher::{BlockDecryptMut as _, KeyIvInit as _};
    let key = EncodingAesKey::decode(K_QDG).unwrap();
    let msg = [b'q'; 72];
    let enc = encrypt_with_random(&key, &msg, "wxid", b"0123456789abcdef").unwrap();
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(&enc)
        .unwrap();
    assert_eq!(raw.len(), 128);
    cbc::Decryptor::<aes::Aes256>::new_from_slices(key.as_bytes(), &key.as_bytes()[..16])
        .unwrap()
        .decrypt_padded_mut::<NoPadding>(&mut raw)
        .unwrap();
    assert!(raw[96..].iter().all(|&b| b == 0x20));
    assert_eq!(&raw[..16], b"0123456789abcdef");
    assert_eq!(&raw[16..20], &72u32.to_be_bytes());
    let crypt = MsgCrypt::new("t", key, ReceiveId::new("wxid"));
    assert_eq!(crypt.decrypt_bytes(&enc).unwrap(), msg);
    // Every padding length 1..=32 round-trips.
    for n in 0..64 {
        let m = vec![b'x'; n];
        let enc = crypt.encrypt(&m).unwrap();
        let raw_len = base64::engine::general_purpose::STANDARD
            .decode(&enc)
            .unwrap()
            .len();
        assert_eq!(raw_len % 32, 0);
        assert!(raw_len > 24 + n && raw_len <= 24 + n + 32);
        assert_eq!(crypt.decrypt_bytes(&enc).unwrap(), m);
    }
}

/// The decrypted message must be UTF-8 for the `String` API (−40008), while the bytes API
/// returns it as is.
#[test]
fn non_utf8_message() {
    let key = EncodingAesKey::decode(K_QDG).unwrap();
    let crypt = MsgCrypt::new("t", key, ReceiveId::new("wxid"));
    let enc = crypt.encrypt(&[0xff, 0xfe, 0x00]).unwrap();
    assert_eq!(crypt.decrypt(&enc).unwrap_err().code(), -40008);
    assert_eq!(crypt.decrypt_bytes(&enc).unwrap(), vec![0xff, 0xfe, 0x00]);
}

/// Reply envelopes from `MsgCrypt` verify and decrypt like the platform would (XML and JSON).
#[test]
fn reply_envelopes_round_trip() {
    let crypt = MsgCrypt::from_config("123456", K_WXPY, "wx49f0ab532d5d035a").unwrap();
    let reply = "<xml><Content><![CDATA[你好]]></Content></xml>";
    let xml = crypt
        .encrypt_reply_xml(reply, "1411525903", "461056294")
        .unwrap();
    let env = parse_xml_envelope(xml.as_bytes()).unwrap();
    let sig = xml_field(&xml, "MsgSignature").unwrap();
    assert_eq!(xml_field(&xml, "TimeStamp").as_deref(), Some("1411525903"));
    assert_eq!(xml_field(&xml, "Nonce").as_deref(), Some("461056294"));
    assert_eq!(
        crypt
            .decrypt_message(&sig, "1411525903", "461056294", &env.encrypt)
            .unwrap(),
        reply
    );

    let robot = MsgCrypt::from_config("tok", K_QDG, "").unwrap();
    let body = r#"{"msgtype":"stream","stream":{"id":"s1","finish":true,"content":"ok"}}"#;
    let json = robot
        .encrypt_reply_json(body, "1700000000", "n0nce")
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let enc = v["encrypt"].as_str().unwrap();
    let sig = v["msgsignature"].as_str().unwrap();
    assert_eq!(v["timestamp"], "1700000000");
    assert_eq!(v["nonce"], "n0nce");
    assert_eq!(
        robot
            .decrypt_envelope(
                sig,
                "1700000000",
                "n0nce",
                format!(r#"{{"encrypt":"{enc}"}}"#).as_bytes()
            )
            .unwrap(),
        body
    );
    // Bad timestamp → −40011.
    assert_eq!(
        crypt
            .encrypt_reply_xml(reply, "12a", "n")
            .unwrap_err()
            .code(),
        -40011
    );
    assert_eq!(
        crypt
            .encrypt_reply_xml(reply, "1", "n]]>")
            .unwrap_err()
            .code(),
        -40011
    );
}
