#!/usr/bin/env python3
"""Unit tests of engine_truth.py's own logic (what runs in a container, which release), the
recipe checker's version constraints and the catalogue generator's secret rule. No engine
needed: `python3 scripts/test_engine_truth.py` (engine_truth.sh runs it first)."""

import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "recipes", "tools"))

import engine_truth as et  # noqa: E402
from check_recipes import parse_version, version_req  # noqa: E402
from engine_parsers import argparse_message, split_program  # noqa: E402

IMAGES = et.json.load(open(os.path.join(HERE, "engine_truth_images.json")))["images"]


class ImageVersions(unittest.TestCase):
    def test_tag_conventions(self):
        self.assertEqual(et.version_from_image("vllm/vllm-openai:v0.11.0"), ("vllm", "0.11.0"))
        self.assertEqual(et.version_from_image("docker.io/vllm/vllm-openai-rocm:v0.33.0"), ("vllm", "0.33.0"))
        self.assertEqual(et.version_from_image("rocm/vllm:rocm7.0.0_vllm_0.11.2_20251210"), ("vllm", "0.11.2"))
        self.assertEqual(et.version_from_image("lmsysorg/sglang:v0.4.6.post1-cu124"), ("sglang", "0.4.6.post1"))
        self.assertIsNone(et.version_from_image("vllm/vllm-openai:latest"))
        self.assertIsNone(et.version_from_image("acme/custom:1"))

    def test_entrypoint_records_follow_the_release(self):
        old = et.image_record(IMAGES, "vllm/vllm-openai:v0.11.0", "0.11.0")
        new = et.image_record(IMAGES, "vllm/vllm-openai:v0.33.0", "0.33.0")
        self.assertEqual(old["entrypoint"], ["python3", "-m", "vllm.entrypoints.openai.api_server"])
        self.assertEqual(new["entrypoint"], ["vllm", "serve"])
        # 0.11.1 was not read: no record rather than a guess.
        self.assertIsNone(et.image_record(IMAGES, "vllm/vllm-openai:v0.11.1", "0.11.1"))


class Argv(unittest.TestCase):
    def test_no_entrypoint_prepends_the_image_entrypoint(self):
        svc = {"command": ["vllm", "serve", "m"], "entrypoint": None}
        argv, _ = et.container_argv(svc, {"ref": "vllm/vllm-openai:v0.11.0"}, IMAGES, "0.11.0")
        self.assertEqual(argv, ["python3", "-m", "vllm.entrypoints.openai.api_server", "vllm", "serve", "m"])

    def test_explicit_entrypoint_is_all_that_runs(self):
        svc = {"command": ["m", "--port", "1"], "entrypoint": ["vllm", "serve"]}
        argv, _ = et.container_argv(svc, {"ref": "vllm/vllm-openai:v0.11.0"}, IMAGES, "0.11.0")
        self.assertEqual(argv, ["vllm", "serve", "m", "--port", "1"])

    def test_unknown_image_without_entrypoint_is_not_guessed(self):
        argv, why = et.container_argv({"command": ["x"]}, {"ref": "acme/x:1"}, IMAGES, None)
        self.assertIsNone(argv)
        self.assertIn("no ENTRYPOINT record", why)

    def test_dockerfile_stage_target_and_entrypoint(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "Dockerfile"), "w") as fh:
                fh.write("FROM vllm/vllm-openai:v0.33.0 AS vllm\nENV A=1\n"
                         "FROM lmsysorg/sglang:v0.5.23 AS sglang\nENTRYPOINT [\"python3\"]\n")
            svc = {"build": {"context": d, "dockerfile": "Dockerfile", "target": "vllm"}}
            self.assertEqual(et.base_of(svc), {"ref": "vllm/vllm-openai:v0.33.0"})
            svc["build"]["target"] = "sglang"
            self.assertEqual(et.base_of(svc), {"ref": "lmsysorg/sglang:v0.5.23", "entrypoint": ["python3"]})
            # A service that names the tag another service builds runs that build.
            builds = {"f-sglang:1": svc["build"]}
            self.assertEqual(et.base_of({"image": "f-sglang:1"}, builds)["ref"], "lmsysorg/sglang:v0.5.23")

    def test_programs(self):
        self.assertEqual(split_program(["python3", "-m", "sglang.launch_server", "--x"]),
                         ("module:sglang.launch_server", ["--x"]))
        self.assertEqual(et.engine_of_argv(["vllm", "serve", "m"]), "vllm")
        self.assertEqual(et.engine_of_argv(["python3", "-m", "vllm.entrypoints.openai.api_server"]), "vllm")
        self.assertIsNone(et.engine_of_argv(["python3", "-c", "print(1)"]))

    def test_argparse_message_spans_lines(self):
        err = "usage: x [-h]\napi_server.py: error: unrecognized arguments: -c job [\n  1\n]\n"
        self.assertEqual(argparse_message(err, 2), "api_server.py: error: unrecognized arguments: -c job [ 1 ]")


class Versions(unittest.TestCase):
    def test_order_and_constraints(self):
        self.assertLess(parse_version("0.4.6"), parse_version("0.4.6.post1"))
        self.assertLess(parse_version("0.4.6.post1"), parse_version("0.5.23"))
        req = version_req(">=0.5,<0.6")
        self.assertTrue(req(parse_version("0.5.23")))
        self.assertFalse(req(parse_version("0.4.6.post1")))
        self.assertTrue(version_req("0.11.2")(parse_version("0.11.2")))
        self.assertIsNone(version_req(">=zero"))


class Secrets(unittest.TestCase):
    def test_credential_names_only(self):
        sys.modules.setdefault("engine_parsers", __import__("engine_parsers"))
        from gen_engine_catalogues import name_is_secret

        for n in ("api-key", "admin-api-key", "hf-token", "ssl-keyfile-password", "VLLM_API_KEY",
                  "HF_TOKEN", "SGLANG_S3_SECRET_ACCESS_KEY"):
            self.assertTrue(name_is_secret(n), n)
        for n in ("ssl-keyfile", "speculative-token-map", "max-num-batched-tokens",
                  "dbo-decode-token-threshold", "SGLANG_INIT_NEW_TOKEN_RATIO", "S3_ACCESS_KEY_ID",
                  "tokenizer"):
            self.assertFalse(name_is_secret(n), n)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=0).result
    bad = len(result.failures) + len(result.errors)
    print(f"test_engine_truth: {result.testsRun - bad} passed, {bad} failed")
    sys.exit(1 if bad else 0)
