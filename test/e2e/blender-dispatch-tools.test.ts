// Issue 3, acceptance 1: every dispatch tool against real headless Blender, through two
// gateway replicas, checking what Blender returned. Two peers: "blender-closed" with every
// tier-3 gate off (the default), "blender-open" with msgbus and PolyHaven on, its PolyHaven
// pointed at a local fixture server.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  FabricTestClient,
  mintToken,
  startBridgeProcess,
  startPolyHavenFixture,
  type BridgeProcess,
  type PolyHavenFixture,
} from "@blender-fabric/testkit";
import { startFabric, type Fabric } from "../support/fabric.js";

let fabric: Fabric;
let polyhaven: PolyHavenFixture;
let bridges: BridgeProcess[] = [];
let llm: FabricTestClient;

beforeAll(async () => {
  fabric = await startFabric({ gateways: 2 });
  polyhaven = await startPolyHavenFixture();
  bridges = await Promise.all([
    startBridgeProcess({ natsUrls: fabric.natsUrls, user: "olga", uuid: "blender-closed" }),
    startBridgeProcess({
      natsUrls: fabric.natsUrls,
      user: "olga",
      uuid: "blender-open",
      addonPreferences: { enable_msgbus: true, enable_polyhaven: true, polyhaven_base_url: polyhaven.url },
    }),
  ]);
  llm = await fabric.connect("olga");
});

afterAll(async () => {
  await Promise.allSettled(bridges.map((bridge) => bridge.stop()));
  await polyhaven?.close();
  await fabric?.[Symbol.asyncDispose]();
});

const onClosed = (args: Record<string, unknown> = {}) => ({ target_uuid: "blender-closed", ...args });
const onOpen = (args: Record<string, unknown> = {}) => ({ target_uuid: "blender-open", ...args });

describe("tier 1", () => {
  test("execute_code adds a cube that get_object_info then finds at its location", async () => {
    const ran = await llm.dispatch(
      "blender_execute_code",
      onClosed({ code: "import bpy\nbpy.ops.mesh.primitive_cube_add(location=(1, 2, 3))\nbpy.context.object.name = 'Added'\nprint('made', bpy.context.object.name)" }),
    );
    expect(ran).toMatchObject({ status: "completed", command: "execute_code", target_uuid: "blender-closed", error: "" });
    expect(ran.job_id).toMatch(/^j-/);
    expect(ran.data).toEqual({ executed: true, result: "made Added\n", stdout: "made Added\n", stderr: "" });

    const info = await llm.dispatch("blender_get_object_info", onClosed({ name: "Added" }));
    expect(info.status).toBe("completed");
    expect(info.data).toMatchObject({ name: "Added", type: "MESH", location: [1, 2, 3], mesh: { vertices: 8, polygons: 6 } });
    expect(info.data.world_bounding_box).toEqual([[0, 1, 2], [2, 3, 4]]);
  });

  test("get_scene_info lists the scene, including the cube just added", async () => {
    const scene = await llm.dispatch("blender_get_scene_info", onClosed());
    expect(scene.status).toBe("completed");
    expect(scene.data).toMatchObject({ name: "Scene", frame_start: 1, frame_end: 250 });
    expect(scene.data.object_count).toBe(4);
    expect(scene.data.objects.map((object: { name: string }) => object.name).sort()).toEqual(["Added", "Camera", "Cube", "Light"]);
  });

  test("an unknown object and a Python error fail with Blender's message", async () => {
    const missing = await llm.dispatch("blender_get_object_info", onClosed({ name: "Nope" }));
    expect(missing).toMatchObject({ status: "failed", error: expect.stringContaining("Object not found: Nope") });
    const broken = await llm.dispatch("blender_execute_code", onClosed({ code: "raise ValueError('boom')" }));
    expect(broken.status).toBe("failed");
    expect(broken.error).toContain("ValueError: boom");
  });

  test("browse_data pages through a collection and shows one item", async () => {
    await llm.dispatch("blender_execute_code", onClosed({ code: "import bpy\nfor i in range(6):\n    bpy.ops.mesh.primitive_cube_add(location=(i, 0, 5))" }));
    const first = await llm.dispatch("blender_browse_data", onClosed({ collection: "objects", page_size: 4 }));
    expect(first.data).toMatchObject({ collection: "objects", total: 10, page: 1, page_size: 4, pages: 3 });
    expect(first.data.items).toHaveLength(4);
    const last = await llm.dispatch("blender_browse_data", onClosed({ collection: "objects", page: 3, page_size: 4 }));
    expect(last.data.items).toHaveLength(2);
    const names = new Set(
      [first, await llm.dispatch("blender_browse_data", onClosed({ collection: "objects", page: 2, page_size: 4 })), last].flatMap(
        (page) => page.data.items.map((item: { name: string }) => item.name),
      ),
    );
    expect(names.size).toBe(10);
    const item = await llm.dispatch("blender_browse_data", onClosed({ collection: "objects", item_name: "Camera", detail_level: "full" }));
    expect(item.data).toMatchObject({ collection: "objects", item: { name: "Camera" } });
    const unknown = await llm.dispatch("blender_browse_data", onClosed({ collection: "spaceships" }));
    expect(unknown).toMatchObject({ status: "failed", error: expect.stringContaining("spaceships") });
  });

  test("get_viewport_screenshot renders the camera into the artifact store, served to its owner only", async () => {
    const shot = await llm.dispatch("blender_get_viewport_screenshot", onClosed({ max_size: 64 }));
    expect(shot.status).toBe("completed");
    expect(shot.data).toMatchObject({ format: "png", artifact: { content_type: "image/png" } });
    expect(Math.max(shot.data.width, shot.data.height)).toBe(64);
    expect(shot.data.filepath).toBeUndefined();
    const url = `${fabric.gateways[1]!.baseUrl}${shot.data.artifact.url}`;
    const owner = await fetch(url, { headers: { authorization: `Bearer ${await mintToken({ sub: "olga" })}` } });
    expect(owner.status).toBe(200);
    const png = Buffer.from(await owner.arrayBuffer());
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(png.length).toBe(shot.data.artifact.size);
    const stranger = await fetch(url, { headers: { authorization: `Bearer ${await mintToken({ sub: "mallory" })}` } });
    expect(stranger.status).toBe(404);
    expect((await fetch(url)).status).toBe(401);
  });

  test("get_viewport_screenshot also answers the picture itself, as an MCP image block of the asked size", async () => {
    const result = await llm.client.callTool({ name: "blender_get_viewport_screenshot", arguments: onClosed({ max_size: 48 }) });
    const [text, image] = result.content as [{ type: string; text: string }, { type: string; data: string; mimeType: string }];
    expect(JSON.parse(text.text)).toMatchObject({ status: "completed" });
    expect(image).toMatchObject({ type: "image", mimeType: "image/png" });
    const png = Buffer.from(image.data, "base64");
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    // IHDR: width and height are the big-endian words at bytes 16 and 20.
    expect(Math.max(png.readUInt32BE(16), png.readUInt32BE(20))).toBe(48);
  });

  test("console output captures what code printed; console operations search, count and clear", async () => {
    await llm.dispatch("blender_execute_code", onClosed({ code: "print('console marker 4711')" }));
    const output = await llm.dispatch("blender_get_console_output", onClosed({ level: "all", page_size: 500 }));
    expect(output.data.lines.some((line: { text: string }) => line.text.includes("console marker 4711"))).toBe(true);
    const search = await llm.dispatch("blender_console_operations", onClosed({ operation: "search", params: { query: "marker 4711" } }));
    expect(search.data.matches.length).toBeGreaterThanOrEqual(1);
    const stats = await llm.dispatch("blender_console_operations", onClosed({ operation: "stats" }));
    expect(stats.data.total).toBeGreaterThanOrEqual(1);
    const cleared = await llm.dispatch("blender_console_operations", onClosed({ operation: "clear" }));
    expect(cleared.data.cleared).toBe(stats.data.total);
    const empty = await llm.dispatch("blender_get_console_output", onClosed());
    expect(empty.data.total).toBe(0);
  });
});

describe("tier 2 and closed gates", () => {
  test.each(["polyhaven", "hyper3d", "sketchfab"])("get_%s_status says disabled and names the preference", async (service) => {
    const status = await llm.dispatch(`blender_get_${service}_status`, onClosed());
    expect(status.status).toBe("completed");
    expect(status.data).toEqual({ enabled: false, message: expect.stringContaining(`enable_${service}`) });
  });

  const GATED: [string, Record<string, unknown>, string][] = [
    ["blender_msgbus_subscribe_rna", { data_path: "bpy.data.objects['Cube'].location" }, "enable_msgbus"],
    ["blender_msgbus_publish_rna", { data_path: "bpy.data.objects['Cube'].location" }, "enable_msgbus"],
    ["blender_msgbus_get_notifications", {}, "enable_msgbus"],
    ["blender_msgbus_list_subscriptions", {}, "enable_msgbus"],
    ["blender_msgbus_clear_by_owner", { owner: "x" }, "enable_msgbus"],
    ["blender_get_polyhaven_categories", {}, "enable_polyhaven"],
    ["blender_search_polyhaven_assets", {}, "enable_polyhaven"],
    ["blender_download_polyhaven_asset", { asset_id: "fixture_sky", asset_type: "hdris" }, "enable_polyhaven"],
    ["blender_set_texture", { object_name: "Cube", texture_id: "fixture_bricks" }, "enable_polyhaven"],
    ["blender_create_rodin_job", { text_prompt: "a chair" }, "enable_hyper3d"],
    ["blender_poll_rodin_job_status", { request_id: "r-1" }, "enable_hyper3d"],
    ["blender_import_generated_asset", { name: "chair", request_id: "r-1" }, "enable_hyper3d"],
    ["blender_search_sketchfab_models", { query: "chair" }, "enable_sketchfab"],
    ["blender_download_sketchfab_model", { uid: "abc" }, "enable_sketchfab"],
  ];
  test.each(GATED)("%s behind a closed gate fails naming %s", async (tool, args, preference) => {
    const answer = await llm.dispatch(tool, onClosed(args));
    expect(answer.status).toBe("failed");
    expect(answer.error).toContain(preference);
  });
});

describe("open gates", () => {
  test("get_polyhaven_status on the open peer says enabled", async () => {
    const status = await llm.dispatch("blender_get_polyhaven_status", onOpen());
    expect(status.data.enabled).toBe(true);
  });

  test("PolyHaven against the fixture: categories, search, HDRI download, texture onto an object", async () => {
    const categories = await llm.dispatch("blender_get_polyhaven_categories", onOpen({ asset_type: "hdris" }));
    expect(categories.data.categories).toMatchObject({ outdoor: 1 });
    const search = await llm.dispatch("blender_search_polyhaven_assets", onOpen({ asset_type: "hdris", categories: "outdoor" }));
    expect(search.data).toMatchObject({ total_count: 1, returned_count: 1 });
    expect(Object.keys(search.data.assets)).toEqual(["fixture_sky"]);

    const hdri = await llm.dispatch("blender_download_polyhaven_asset", onOpen({ asset_id: "fixture_sky", asset_type: "hdris" }));
    expect(hdri).toMatchObject({ status: "completed", data: { success: true } });
    expect(polyhaven.requests).toContain("/downloads/fixture_sky_1k.hdr");
    const world = await llm.dispatch(
      "blender_execute_code",
      onOpen({ code: "import bpy\nnode = next(n for n in bpy.context.scene.world.node_tree.nodes if n.type == 'TEX_ENVIRONMENT')\nprint(node.image.name, tuple(node.image.size))" }),
    );
    expect(world.data.result).toBe(`${hdri.data.image_name} (2, 2)\n`);

    const texture = await llm.dispatch("blender_download_polyhaven_asset", onOpen({ asset_id: "fixture_bricks", asset_type: "textures", file_format: "png" }));
    expect(texture).toMatchObject({ status: "completed", data: { success: true, maps: ["Diffuse"] } });
    const applied = await llm.dispatch("blender_set_texture", onOpen({ object_name: "Cube", texture_id: "fixture_bricks" }));
    expect(applied.data).toMatchObject({ success: true, object: "Cube" });
    const cube = await llm.dispatch("blender_get_object_info", onOpen({ name: "Cube" }));
    expect(cube.data.materials).toEqual([applied.data.material]);
  });

  test("msgbus: subscribe, list, publish, read, clear by owner", async () => {
    const dataPath = "bpy.data.objects['Cube'].location";
    const subscribed = await llm.dispatch("blender_msgbus_subscribe_rna", onOpen({ data_path: dataPath, owner: "watcher" }));
    expect(subscribed.data).toMatchObject({ subscribed: true, owner: "watcher", data_path: dataPath });
    const listed = await llm.dispatch("blender_msgbus_list_subscriptions", onOpen());
    expect(listed.data.count).toBe(1);
    const published = await llm.dispatch("blender_msgbus_publish_rna", onOpen({ data_path: dataPath }));
    expect(published.data).toMatchObject({ published: true });
    // Background Blender never dispatches msgbus notifications; the answer says so.
    const notifications = await llm.dispatch("blender_msgbus_get_notifications", onOpen({ owner: "watcher" }));
    expect(notifications.data).toMatchObject({ delivers_notifications: false, count: 0 });
    const cleared = await llm.dispatch("blender_msgbus_clear_by_owner", onOpen({ owner: "watcher" }));
    expect(cleared.data).toEqual({ owner: "watcher", cleared: 1 });
    expect((await llm.dispatch("blender_msgbus_list_subscriptions", onOpen())).data.count).toBe(0);
  });
});

describe("targets", () => {
  test("two live peers and no target: ambiguous_target with candidates; latest and pid:<n> pick one", async () => {
    const ambiguous = await llm.call("blender_get_scene_info");
    expect(ambiguous.status).toBe("ambiguous_target");
    expect(ambiguous.candidates.map((candidate: { uuid: string }) => candidate.uuid).sort()).toEqual(["blender-closed", "blender-open"]);
    const latest = await llm.call("blender_get_scene_info", { target_uuid: "latest" });
    expect(latest.status).toBe("completed");
    const pid = bridges[1]!.blenderPid();
    const byPid = await llm.call("blender_get_scene_info", { target_uuid: `pid:${pid}` });
    expect(byPid).toMatchObject({ status: "completed", target_uuid: "blender-open" });
    expect((await llm.call("blender_get_scene_info", { target_uuid: "blender-nowhere" })).status).toBe("unknown_target");
    expect((await llm.call("blender_get_scene_info", { target_uuid: "pid:1" })).status).toBe("unknown_target");
  });

  test("bus_id of another user is refused; a blender-client token may not dispatch", async () => {
    expect((await llm.call("blender_get_scene_info", { target_uuid: "latest", bus_id: "someone-else" })).status).toBe("not_a_member");
    const peer = await FabricTestClient.connect({
      mcpUrls: fabric.gateways.map((gateway) => gateway.mcpUrl),
      token: await mintToken({ sub: "olga", role: "blender-client" }),
    });
    expect((await peer.call("blender_get_scene_info", { target_uuid: "latest" })).status).toBe("wrong_role");
    // Bus tools stay open to Blender peers (they register and report job updates).
    expect((await peer.call("blender_list_available_clients")).status).toBe("ok");
    await peer.close();
  });
});
