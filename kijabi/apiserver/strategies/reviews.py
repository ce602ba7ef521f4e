"""Resources that are not stored: access and token reviews answered on POST."""

from __future__ import annotations

from typing import Any

from kijabi.apiserver.strategy import Strategy


def _user(request: Any) -> Any:
    return request["user"]


class SelfSubjectAccessReviewStrategy(Strategy):
    async def create_virtual(self, ctx: Any, request: Any, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        # Until RBAC arrives every authenticated user may do everything.
        obj["status"] = {"allowed": True, "reason": "kijabi: every authenticated user is allowed until RBAC is enabled"}
        obj.setdefault("metadata", {})["creationTimestamp"] = None
        return obj


class SubjectAccessReviewStrategy(SelfSubjectAccessReviewStrategy):
    pass


class SelfSubjectRulesReviewStrategy(Strategy):
    async def create_virtual(self, ctx: Any, request: Any, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        obj["status"] = {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
        obj.setdefault("metadata", {})["creationTimestamp"] = None
        return obj


class SelfSubjectReviewStrategy(Strategy):
    async def create_virtual(self, ctx: Any, request: Any, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        obj["status"] = {"userInfo": _user(request).info()}
        obj.setdefault("metadata", {})["creationTimestamp"] = None
        return obj


class TokenReviewStrategy(Strategy):
    async def create_virtual(self, ctx: Any, request: Any, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        token = (obj.get("spec") or {}).get("token", "")
        user = await ctx.authenticate_token(token) if token and ctx.authenticate_token else None
        if user is None:
            obj["status"] = {"authenticated": False, "user": {}, "error": "invalid bearer token"}
        else:
            obj["status"] = {"authenticated": True, "user": user.info(), "audiences": (obj.get("spec") or {}).get("audiences") or []}
        obj.setdefault("metadata", {})["creationTimestamp"] = None
        return obj


STRATEGIES: dict[tuple[str, str], type[Strategy]] = {
    ("authorization.k8s.io", "selfsubjectaccessreviews"): SelfSubjectAccessReviewStrategy,
    ("authorization.k8s.io", "subjectaccessreviews"): SubjectAccessReviewStrategy,
    ("authorization.k8s.io", "localsubjectaccessreviews"): SubjectAccessReviewStrategy,
    ("authorization.k8s.io", "selfsubjectrulesreviews"): SelfSubjectRulesReviewStrategy,
    ("authentication.k8s.io", "selfsubjectreviews"): SelfSubjectReviewStrategy,
    ("authentication.k8s.io", "tokenreviews"): TokenReviewStrategy,
}
