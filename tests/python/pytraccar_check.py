#!/usr/bin/env python3
"""Drive a live `trackd serve` with the real PyPI client `pytraccar`.

Works with pytraccar 3.x (token auth: `Authorization: Bearer` on every call,
`GET /api/session?token=` to get the JSESSIONID cookie the WebSocket needs)
and 2.x (password auth: HTTP Basic on every call, `POST /api/session` with
form fields to get the cookie). Both connect `/api/socket` with nothing but
the cookie, so the cookie jar matters:

* `--host-mode ip`: host 127.0.0.1 and `aiohttp.CookieJar(unsafe=True)`
  (aiohttp's default jar drops cookies set by IP addresses);
* `--host-mode localhost`: host `localhost` and the default jar.

Checks get_server, get_devices, get_geofences, get_positions,
get_reports_events and subscribe(): the subscription must deliver a new
position of the test device, sent by `trackd simulate` started once the
WebSocket is connected. Exits non-zero on the first failed check.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib.metadata
import math
import sys
import time
import urllib.parse
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytraccar
from pytraccar import (
    DeviceModel,
    GeofenceModel,
    PositionModel,
    ReportsEventeModel,
    ServerModel,
    SubscriptionStatus,
    TraccarAuthenticationException,
)

VERSION = importlib.metadata.version("pytraccar")
MAJOR = int(VERSION.split(".")[0])

def log(message: str) -> None:
    print(f"[pytraccar {VERSION}] {message}", flush=True)


def check(condition: Any, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def check_shape(obj: Any, model: type, what: str) -> None:
    """Every key the pytraccar TypedDict declares must be there (null is fine
    where Traccar sends null): a renamed or dropped field fails here before
    it fails in Home Assistant with a KeyError."""
    check(isinstance(obj, dict), f"{what}: expected an object, got {obj!r}")
    expected = set(model.__annotations__)
    missing = sorted(expected - set(obj))
    check(not missing, f"{what}: missing keys {missing} in {obj!r}")
    check(isinstance(obj.get("attributes", {}), dict), f"{what}: attributes not an object")


def parse_iso(text: str) -> datetime:
    # Python 3.11 accepts "Z" and "+00:00"; Traccar clients expect an offset.
    value = datetime.fromisoformat(text)
    check(value.tzinfo is not None, f"time without offset: {text!r}")
    return value


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        url = urllib.parse.urlsplit(args.url)
        self.port = url.port or 8082
        self.tls = url.scheme == "https"
        self.host = "127.0.0.1" if args.host_mode == "ip" else "localhost"
        self.base = f"{url.scheme}://{self.host}:{self.port}/api"

    def jar(self) -> aiohttp.CookieJar:
        if self.args.host_mode == "ip":
            return aiohttp.CookieJar(unsafe=True)
        return aiohttp.CookieJar()

    def client(self, session: aiohttp.ClientSession, *, bad: bool = False) -> Any:
        if MAJOR >= 3:
            token = "not-a-valid-token" if bad else self.args.token
            return pytraccar.ApiClient(
                host=self.host,
                port=self.port,
                token=token,
                ssl=self.tls,
                client_session=session,
            )
        password = self.args.password + "-wrong" if bad else self.args.password
        return pytraccar.ApiClient(
            host=self.host,
            port=self.port,
            username=self.args.email,
            password=password,
            ssl=self.tls,
            client_session=session,
        )

    def auth_headers(self) -> dict[str, str]:
        """The same credentials pytraccar uses, for the few raw calls."""
        if MAJOR >= 3:
            return {"Authorization": f"Bearer {self.args.token}"}
        pair = f"{self.args.email}:{self.args.password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}

    async def main(self) -> None:
        log(f"host {self.host}:{self.port}, jar {'unsafe' if self.args.host_mode == 'ip' else 'default'}, "
            f"{'token' if MAJOR >= 3 else 'password'} auth")
        async with aiohttp.ClientSession(cookie_jar=self.jar()) as session:
            await self.wrong_credentials(session)
            client = self.client(session)
            await self.server(client)
            device = await self.devices(client)
            geofence_id = await self.create_geofence(session)
            try:
                await self.geofences(client, geofence_id)
                before = await self.positions(client, device, require=False)
                await self.reports(client, device)
                await self.subscribe(client, device, {p["id"] for p in before})
                after = await self.positions(client, device, require=True)
                check(
                    max(p["id"] for p in after if p["deviceId"] == device["id"])
                    not in {p["id"] for p in before},
                    "get_positions still shows the position from before the simulator",
                )
                await self.reports(client, device)
            finally:
                await self.delete_geofence(session, geofence_id)
        log("all checks passed")

    async def wrong_credentials(self, session: aiohttp.ClientSession) -> None:
        # A fresh jar so no cookie from this session can stand in.
        async with aiohttp.ClientSession(cookie_jar=self.jar()) as other:
            bad = self.client(other, bad=True)
            try:
                await bad.get_devices()
            except TraccarAuthenticationException:
                log("wrong credentials: TraccarAuthenticationException, as expected")
            else:
                raise AssertionError("get_devices with wrong credentials succeeded")
        del session

    async def server(self, client: Any) -> None:
        server: ServerModel = await client.get_server()
        check_shape(server, ServerModel, "get_server")
        check(isinstance(server["version"], str) and server["version"], "server version empty")
        check(isinstance(server["registration"], bool), "registration is not a bool")
        log(f"get_server: version {server['version']}")

    async def devices(self, client: Any) -> DeviceModel:
        devices: list[DeviceModel] = await client.get_devices()
        check(isinstance(devices, list), f"get_devices: not a list: {devices!r}")
        for device in devices:
            check_shape(device, DeviceModel, "get_devices[]")
        mine = [d for d in devices if d["uniqueId"] == self.args.imei]
        check(mine, f"get_devices: no device {self.args.imei} in {devices!r}")
        device = mine[0]
        check(isinstance(device["id"], int), "device id is not an int")
        check(device["status"] in ("online", "offline", "unknown"), f"status {device['status']!r}")
        log(f"get_devices: {len(devices)} device(s), test device id {device['id']}")
        return device

    async def create_geofence(self, session: aiohttp.ClientSession) -> int:
        name = f"pytraccar-{VERSION}-{self.args.host_mode}-{uuid.uuid4().hex[:8]}"
        body = {"name": name, "area": "CIRCLE (52.52 13.40, 500)", "attributes": {}}
        async with session.post(
            f"{self.base}/geofences", json=body, headers=self.auth_headers()
        ) as response:
            text = await response.text()
            check(response.status == 200, f"POST /api/geofences: {response.status} {text}")
            created = await response.json()
        check(created.get("name") == name, f"POST /api/geofences answered {created!r}")
        return int(created["id"])

    async def delete_geofence(self, session: aiohttp.ClientSession, geofence_id: int) -> None:
        async with session.delete(
            f"{self.base}/geofences/{geofence_id}", headers=self.auth_headers()
        ) as response:
            check(response.status in (200, 204), f"DELETE geofence: {response.status}")

    async def geofences(self, client: Any, geofence_id: int) -> None:
        geofences: list[GeofenceModel] = await client.get_geofences()
        check(isinstance(geofences, list), f"get_geofences: not a list: {geofences!r}")
        for geofence in geofences:
            check_shape(geofence, GeofenceModel, "get_geofences[]")
        ours = [g for g in geofences if g["id"] == geofence_id]
        check(ours, f"get_geofences: geofence {geofence_id} missing from {geofences!r}")
        check(ours[0]["area"].startswith("CIRCLE"), f"geofence area {ours[0]['area']!r}")
        log(f"get_geofences: {len(geofences)} geofence(s), ours present")

    async def positions(self, client: Any, device: DeviceModel, *, require: bool) -> list[PositionModel]:
        positions: list[PositionModel] = await client.get_positions()
        check(isinstance(positions, list), f"get_positions: not a list: {positions!r}")
        for position in positions:
            check_shape(position, PositionModel, "get_positions[]")
            check_position(position)
        ours = [p for p in positions if p["deviceId"] == device["id"]]
        check(len(ours) <= 1, f"get_positions: more than one latest position per device: {ours!r}")
        if require:
            check(ours, f"get_positions: no position of device {device['id']}: {positions!r}")
        log(f"get_positions: {len(positions)} position(s), {len(ours)} of the test device")
        return positions

    async def reports(self, client: Any, device: DeviceModel) -> None:
        # pytraccar's defaults: the last 30 hours, times with microseconds.
        events: list[ReportsEventeModel] = await client.get_reports_events(devices=[device["id"]])
        check(isinstance(events, list), f"get_reports_events: not a list: {events!r}")
        for event in events:
            check_shape(event, ReportsEventeModel, "get_reports_events[]")
            check(event["deviceId"] == device["id"], f"event of another device: {event!r}")
        # An explicit range, a type filter, and no device filter at all.
        now = datetime.now(tz=timezone.utc).replace(tzinfo=None, microsecond=0)
        typed = await client.get_reports_events(
            devices=[device["id"]],
            event_types=["allEvents"],
            start_time=now + timedelta(minutes=1),
            end_time=now - timedelta(days=7),
        )
        check(isinstance(typed, list), f"get_reports_events(allEvents): {typed!r}")
        everything = await client.get_reports_events()
        check(isinstance(everything, list), f"get_reports_events(): {everything!r}")
        log(f"get_reports_events: {len(events)} / {len(typed)} / {len(everything)} event(s)")

    async def subscribe(self, client: Any, device: DeviceModel, known_ids: set[int]) -> None:
        received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        messages = 0

        async def callback(data: dict[str, Any]) -> None:
            nonlocal messages
            messages += 1
            await received.put(data)

        task = asyncio.create_task(client.subscribe(callback))
        deadline = time.monotonic() + 15
        while client.subscription_status != SubscriptionStatus.CONNECTED:
            if task.done():
                task.result()  # raises the client's error
                raise AssertionError("subscribe() returned before connecting")
            check(time.monotonic() < deadline, f"subscribe(): still {client.subscription_status}")
            await asyncio.sleep(0.05)
        log("subscribe(): connected")

        simulator = await asyncio.create_subprocess_exec(
            self.args.trackd,
            "simulate",
            "--target", f"127.0.0.1:{self.args.teltonika_port}",
            "--devices", "1",
            "--imei-base", self.args.imei,
            "--rate", "1",
            "--duration", "20",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            position = await asyncio.wait_for(
                self.wait_for_position(received, task, device, known_ids), self.args.timeout
            )
        except asyncio.TimeoutError as exc:
            raise AssertionError(
                f"no new position of device {device['id']} within {self.args.timeout}s "
                f"({messages} message(s) received)"
            ) from exc
        finally:
            if simulator.returncode is None:
                simulator.terminate()
            _, stderr = await simulator.communicate()
            if stderr.strip():
                log(f"simulator stderr: {stderr.decode(errors='replace').strip()}")
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        check(
            client.subscription_status == SubscriptionStatus.DISCONNECTED,
            f"after cancel the status is {client.subscription_status}",
        )
        log(f"subscribe(): position {position['id']} at {position['latitude']:.5f},"
            f"{position['longitude']:.5f} received")

    async def wait_for_position(
        self,
        received: asyncio.Queue[dict[str, Any]],
        task: asyncio.Task[None],
        device: DeviceModel,
        known_ids: set[int],
    ) -> PositionModel:
        while True:
            getter = asyncio.ensure_future(received.get())
            done, _ = await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                task.result()
                raise AssertionError("subscribe() ended without delivering a position")
            data = getter.result()
            check(set(data) >= {"devices", "positions", "events"}, f"message {data!r}")
            for item in data.get("devices") or []:
                check_shape(item, DeviceModel, "subscribe devices[]")
            for item in data.get("events") or []:
                check_shape(item, ReportsEventeModel, "subscribe events[]")
            for position in data.get("positions") or []:
                check_shape(position, PositionModel, "subscribe positions[]")
                check_position(position)
                if position["deviceId"] == device["id"] and position["id"] not in known_ids:
                    return position


def check_position(position: PositionModel) -> None:
    for key in ("latitude", "longitude", "speed", "course", "altitude"):
        value = position[key]
        check(isinstance(value, (int, float)) and math.isfinite(value), f"{key}={value!r}")
    check(-90 <= position["latitude"] <= 90, f"latitude {position['latitude']}")
    check(-180 <= position["longitude"] <= 180, f"longitude {position['longitude']}")
    for key in ("fixTime", "deviceTime", "serverTime"):
        parse_iso(position[key])
    check(isinstance(position["id"], int), "position id is not an int")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="http(s)://127.0.0.1:PORT of trackd serve")
    parser.add_argument("--token", required=True, help="API token (pytraccar 3)")
    parser.add_argument("--email", required=True, help="login email (pytraccar 2)")
    parser.add_argument("--password", required=True, help="password (pytraccar 2)")
    parser.add_argument("--host-mode", choices=["ip", "localhost"], required=True)
    parser.add_argument("--imei", required=True, help="IMEI of a device the user may see")
    parser.add_argument("--trackd", required=True, help="path of the trackd binary (simulate)")
    parser.add_argument("--teltonika-port", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the position")
    args = parser.parse_args()
    try:
        asyncio.run(Run(args).main())
    except AssertionError as exc:
        log(f"FAILED: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
