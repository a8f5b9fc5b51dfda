import { apiConfig } from '../../eslint.shared.js';

export default apiConfig;
