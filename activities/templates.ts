// The host activity of a template's build workflow: build the template's image on this host (the
// activity arrives on the host's own queue) and answer with the outcome and the end of the build's log.
import { withHeartbeat } from './heartbeat.js';
import type { TemplateBuildResult, TemplateRef } from '../contract/templates.js';
import type { TemplateImages } from '../sandbox/template-images.js';

export function createTemplateActivities(images: TemplateImages) {
  return {
    /** A host that already has the image (the same packages, built before) answers at once. */
    async buildTemplate(ref: TemplateRef): Promise<TemplateBuildResult> {
      return withHeartbeat(() => images.ensure(ref));
    },
  };
}

export type TemplateActivities = ReturnType<typeof createTemplateActivities>;
