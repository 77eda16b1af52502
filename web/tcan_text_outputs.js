// Shows the text a TCAN node returns as its UI output (ui.PreviewText: Pose Retarget's notes, Procrustes
// Calibrate's summary, Load TCAN's setup, Save Pose JSON's saved path) in a read-only box on the node.
// ComfyUI's frontend displays that output only on its own Preview Any node (extensions/core/previewAny).
// Cached nodes send their UI output again, so the text is there after every run.
import { app } from "../../scripts/app.js";
import { ComfyWidgets } from "../../scripts/widgets.js";

const WIDGET_NAME = "tcan_output_text";

app.registerExtension({
  name: "TCAN.TextOutputs",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!nodeData.name.startsWith("TCAN")) return;
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (message) {
      onExecuted?.apply(this, arguments);
      const text = message?.text?.join("\n");
      if (!text) return;
      let widget = this.widgets?.find((w) => w.name === WIDGET_NAME);
      if (!widget) {
        widget = ComfyWidgets.STRING(this, WIDGET_NAME, ["STRING", { multiline: true }], app).widget;
        widget.element.readOnly = true;
        widget.serialize = false; // not part of the workflow or the prompt
      }
      widget.value = text;
      // the bundled workflows leave room for the text; grow only a node that has none
      const [width, height] = this.computeSize();
      this.setSize([Math.max(this.size[0], width), Math.max(this.size[1], height)]);
      app.graph.setDirtyCanvas(true, true);
    };
  },
});
