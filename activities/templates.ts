// The host activities of the template workflows: build a template's image on this host (the activity
// arrives on the host's own queue) and answer with the outcome and the end of the build's log; remove a
// deleted template's image.
import { withHeartbeat } from './heartbeat.js';
import type { TemplateBuildResult, TemplateRef } from '../contract/templates.js';
import type { TemplateImages } from '../sandbox/template-images.js';

export interface TemplateActivityDeps {
  images: TemplateImages;
  /** Whether a live template (of any account) still names the image: then it stays. */
  imageWanted: (image: string) => Promise<boolean>;
  /** Closes the python pools of an image, so their idle sandboxes no longer hold it. */
  evictPools: (image: string) => Promise<void>;
}

export function createTemplateActivities(deps: TemplateActivityDeps) {
  return {
    /**
     * A host that has the image already answers as its build did. Cancelled (the template was deleted),
     * the build stops: the docker build is aborted and its step container removed.
     */
    async buildTemplate(ref: TemplateRef): Promise<TemplateBuildResult> {
      return withHeartbeat(async (signal) => {
        const { built: _built, ...answer } = await deps.images.ensure(ref, signal);
        return answer;
      });
    },

    /** Removes a deleted template's image unless another live template names it; true when it is gone. */
    async pruneTemplateImage(image: string): Promise<boolean> {
      return deps.images.prune(image, deps.imageWanted, deps.evictPools);
    },
  };
}

export type TemplateActivities = ReturnType<typeof createTemplateActivities>;
