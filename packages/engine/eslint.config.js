import { engineConfig } from '../../eslint.shared.js';

export default engineConfig;
