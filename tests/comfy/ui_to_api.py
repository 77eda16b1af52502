"""Convert a UI-format workflow (what the frontend saves) to the API format (what POST /prompt takes).

The frontend does this in JavaScript (graphToPrompt); this is the same mapping for the node kinds
our workflows use, driven by ComfyUI's node definitions (the /object_info data).
"""

FRONTEND_ONLY = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
SEED_CONTROL = {"fixed", "increment", "decrement", "randomize"}


def node_info(nodes, class_type):
    cls = nodes.NODE_CLASS_MAPPINGS[class_type]
    if hasattr(cls, "GET_NODE_INFO_V1"):
        return cls.GET_NODE_INFO_V1()
    types = cls.INPUT_TYPES()
    return {"input": types, "input_order": {k: list(v.keys()) for k, v in types.items()}}


def _is_widget(spec):
    kind = spec[0]
    return isinstance(kind, list) or kind in WIDGET_TYPES


def widget_names(info):
    names = []
    for section in ("required", "optional"):
        inputs = info["input"].get(section) or {}
        for name in info.get("input_order", {}).get(section, list(inputs)):
            if _is_widget(inputs[name]):
                names.append((name, inputs[name]))
    return names


def convert(workflow, nodes):
    """UI workflow dict -> API prompt dict. Raises KeyError for an unknown node type."""
    links = {link[0]: link for link in workflow["links"]}
    prompt = {}
    for node in workflow["nodes"]:
        if node["type"] in FRONTEND_ONLY or node.get("mode", 0) in (2, 4):
            continue
        info = node_info(nodes, node["type"])
        inputs = {}
        values = list(node.get("widgets_values") or [])
        position = 0
        for name, spec in widget_names(info):
            if position < len(values):
                inputs[name] = values[position]
                position += 1
                options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
                if (options.get("control_after_generate") or name in ("seed", "noise_seed")) and \
                        position < len(values) and values[position] in SEED_CONTROL:
                    position += 1
        for socket in node.get("inputs", []):
            if socket.get("link") is not None:
                link = links[socket["link"]]
                inputs[socket["name"]] = [str(link[1]), link[2]]
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt
