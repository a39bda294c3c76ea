"""Sharing as a client does it: a list shared through invitations, over the test client."""

from tests.support.users import User


class Sharing:
    """The API calls the sharing tests make, each asserting the status it expects."""

    def __init__(self, client):
        self.client = client

    def call(self, user: User, method: str, path: str, json=None, status: int | None = None):
        response = self.client.open(f"/api/me{path}", method=method, json=json, headers=user.headers)
        body = response.get_json(silent=True)
        if status is not None:
            assert response.status_code == status, (method, path, response.status_code, body)
        return body

    def make_list(self, owner: User, name: str = "Shared") -> dict:
        return self.call(owner, "POST", "/lists", {"name": name}, status=201)

    def invite(self, inviter: User, list_id, invitee: User, role: str, status: int = 201) -> dict:
        return self.call(inviter, "POST", f"/lists/{list_id}/invitations",
                         {"user_id": invitee.sub, "role": role}, status=status)

    def accept(self, invitee: User, invitation_id, status: int = 200) -> dict:
        return self.call(invitee, "POST", f"/invitations/{invitation_id}/accept", status=status)

    def share(self, owner: User, list_id, member: User, role: str) -> None:
        """Invite `member` and have them accept."""
        self.accept(member, self.invite(owner, list_id, member, role)["id"])

    def shared_list(self, owner: User, members: dict, name: str = "Shared") -> dict:
        """A list `owner` made and shared with each member at their role ({User: role})."""
        made = self.make_list(owner, name)
        for member, role in members.items():
            self.share(owner, made["id"], member, role)
        return made

    def add_task(self, user: User, list_id=None, status: int = 201, **fields) -> dict:
        fields.setdefault("title", "A task")
        if list_id is not None:
            fields["list_id"] = str(list_id)
        return self.call(user, "POST", "/tasks", fields, status=status)

    def titles(self, user: User, **query) -> set[str]:
        response = self.client.get("/api/me/tasks", query_string={"limit": 500, **query}, headers=user.headers)
        assert response.status_code == 200, response.json
        return {task["title"] for task in response.json}
