// Every workflow type the control worker runs.
export { taskWorkflow } from './task.js';
export { sessionWorkflow } from './session.js';
export { templateBuildWorkflow, templatePruneWorkflow } from './template.js';
