"""Layout checks shared by the static workflow tests (sizes saved in the JSON) and the browser test
(sizes the frontend draws)."""

NOTES = {"MarkdownNote", "Note"}  # the only nodes that may stand outside a group


def drawn_rect(node, title_height):
    """(left, top, right, bottom) of what the frontend draws for a node: body, title bar, badges above it."""
    x, y = node["pos"]
    w, h = node["size"]
    return x, y - title_height - node["badge"], x + w, y + h


def overlap(a, b):
    return min(a[2], b[2]) - max(a[0], b[0]) > 0 and min(a[3], b[3]) - max(a[1], b[1]) > 0


def inside(a, b):
    return b[0] <= a[0] and b[1] <= a[1] and a[2] <= b[2] and a[3] <= b[3]


def layout_problems(nodes, groups, title_height):
    """Overlapping nodes, nodes a group cuts or whose title bar they cover, overlapping groups, nodes
    in no group. nodes: [{id, type, title, pos, size, badge}]; groups: [{title, bounding, titleHeight}]."""
    rects = {f'{n["id"]} {n["title"]}': drawn_rect(n, title_height) for n in nodes}
    names = list(rects)
    problems = [f"{a} overlaps {b}" for i, a in enumerate(names) for b in names[i + 1:] if overlap(rects[a], rects[b])]
    outers = {}
    for group in groups:
        x, y, w, h = group["bounding"]
        outers[group["title"]] = outer = (x, y, x + w, y + h)
        body = (x, y + group["titleHeight"], x + w, y + h)
        problems += [f"group {group['title']} cuts {name}" for name, rect in rects.items()
                     if overlap(rect, outer) and not inside(rect, body)]
    titles = list(outers)
    problems += [f"group {a} overlaps group {b}" for i, a in enumerate(titles) for b in titles[i + 1:]
                 if overlap(outers[a], outers[b])]
    problems += [f"{name} is in no group" for node, (name, rect) in zip(nodes, rects.items())
                 if node["type"] not in NOTES and not any(inside(rect, outer) for outer in outers.values())]
    return problems
